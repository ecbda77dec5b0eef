import * as nodeCrypto from 'node:crypto';
import { createRequire } from 'node:module';
import { type FrameCrypto, nativeSodiumAead, nodeAead, nodeBase64url, type SodiumNativeLike } from '@oppie/client-sdk';

let loaded: { frameCrypto: FrameCrypto; aead: 'sodium-native' | 'openssl'; error: unknown } | undefined;

/**
 * The frame cipher a Node sidecar uses: native libsodium (`sodium-native`, prebuilt for the common platforms) when it
 * loads, else OpenSSL's ChaCha20-Poly1305 through {@link nodeAead}; `Buffer` base64url either way. Every choice
 * produces the same bytes, so the phone's WebAssembly libsodium opens what either seals. Loaded once, on first use.
 *
 * @example
 * const { frameCrypto, aead } = nodeFrameCryptoBest();
 * console.log(`frames sealed with ${aead}`);
 */
export function nodeFrameCryptoBest(): {
  frameCrypto: FrameCrypto;
  aead: 'sodium-native' | 'openssl';
  error: unknown;
} {
  if (loaded === undefined) {
    const base64url = nodeBase64url(Buffer);
    try {
      const sn = createRequire(import.meta.url)('sodium-native') as SodiumNativeLike;
      loaded = { frameCrypto: { aead: nativeSodiumAead(sn), base64url }, aead: 'sodium-native', error: undefined };
    } catch (error) {
      // No build for this platform: OpenSSL is a little slower, never wrong.
      loaded = { frameCrypto: { aead: nodeAead(nodeCrypto), base64url }, aead: 'openssl', error };
    }
  }
  return loaded;
}
