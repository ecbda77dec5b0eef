/**
 * The SDK frame cipher a bench process runs with. `sidecar`: what sidecar-sdk's nodePlatform injects (native
 * libsodium through sodium-native, or OpenSSL where it has no build; Buffer base64url). `node`: OpenSSL's
 * ChaCha20-Poly1305 and Buffer (the previous Node backend). `portable`: libsodium's WebAssembly build and the SDK's
 * JS codec, as in a browser.
 */
import * as nodeCrypto from 'node:crypto';
import { type FrameCrypto, nodeFrameCrypto, setDefaultFrameCrypto } from '@oppie/client-sdk';
import { nodeFrameCryptoBest } from '@oppie/sidecar-sdk';

export const FRAME_BACKENDS = ['sidecar', 'node', 'portable'] as const;
export type FrameBackend = (typeof FRAME_BACKENDS)[number];

/** The backend's parts; undefined for `portable` (the SDK's own default). */
export function frameCryptoOf(backend: FrameBackend): FrameCrypto | undefined {
  if (backend === 'sidecar') return nodeFrameCryptoBest().frameCrypto;
  if (backend === 'node') return nodeFrameCrypto(nodeCrypto, Buffer);
  return undefined;
}

/** Makes `backend` the process default for sessions created from now on. */
export function useFrameBackend(backend: FrameBackend): void {
  const fc = frameCryptoOf(backend);
  if (fc !== undefined) setDefaultFrameCrypto(fc);
}
