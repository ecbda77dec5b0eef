/**
 * The pure cost of end-to-end encryption per frame, in process: `PeerSession.seal` on one side and `PeerSession.open`
 * on the other, for the frame the SDK builds (`{"p": payload}` as UTF-8 JSON), plus its parts (the AEAD alone, the
 * SDK's base64url codec, Node's base64url for comparison) so the end-to-end gap can be attributed.
 */
import * as nodeCrypto from 'node:crypto';
import {
  fromB64u,
  generateIdentity,
  jsBase64url,
  nodeAead,
  nodeFrameCrypto,
  PeerSession,
  type Sodium,
  sodiumAead,
  sodiumReady,
  toB64u,
} from '@oppie/client-sdk';
import { nodeFrameCryptoBest } from '@oppie/sidecar-sdk';

export interface CryptoCost {
  readonly label: string;
  readonly plaintextBytes: number;
  readonly iterations: number;
  /** Microseconds per frame, portable backend (libsodium wasm AEAD, the SDK's JS base64url: browsers). */
  readonly seal: number;
  readonly open: number;
  /** The same with the Node backend (OpenSSL ChaCha20-Poly1305 from 2 KiB up, Buffer base64url). */
  readonly nodeSeal: number;
  readonly nodeOpen: number;
  /** The same with what sidecar-sdk injects (native libsodium, Buffer base64url). */
  readonly sidecarSeal: number;
  readonly sidecarOpen: number;
  /** libsodium's randombytes_buf(24): the nonce of every seal. */
  readonly nonce: number;
  /** Node's crypto.getRandomValues for the same 24 bytes, for comparison. */
  readonly nodeNonce: number;
  readonly aeadEncrypt: number;
  readonly aeadDecrypt: number;
  /** OpenSSL ChaCha20-Poly1305 + HChaCha20 (nodeAead), every size. */
  readonly nodeAeadEncrypt: number;
  readonly nodeAeadDecrypt: number;
  /** Native libsodium (sodium-native), every size. */
  readonly nativeAeadEncrypt: number;
  readonly nativeAeadDecrypt: number;
  readonly sdkToB64u: number;
  readonly sdkFromB64u: number;
  readonly nodeToB64u: number;
  readonly nodeFromB64u: number;
}

function timeIt(iterations: number, fn: (i: number) => unknown): number {
  let sink = 0;
  for (let i = 0; i < Math.min(200, iterations); i++) sink += fn(i) === undefined ? 0 : 1;
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) sink += fn(i) === undefined ? 0 : 1;
  const us = ((performance.now() - t0) * 1000) / iterations;
  if (sink < 0) throw new Error('unreachable');
  return us;
}

/**
 * Measures seal+open for a payload of `payloadChars` characters.
 *
 * @example
 * const cost = await measureCrypto('1 KiB', filler, 20_000);
 */
export async function measureCrypto(label: string, payload: string, iterations: number): Promise<CryptoCost> {
  const s: Sodium = await sodiumReady();
  const [sidecarId, pwaId] = await Promise.all([generateIdentity(), generateIdentity()]);
  const portable = { aead: sodiumAead(s), base64url: jsBase64url };
  const sidecar = await PeerSession.create(sidecarId, pwaId.publicKey, 'sidecar', portable);
  const pwa = await PeerSession.create(pwaId, sidecarId.publicKey, 'pwa', portable);
  const fast = nodeFrameCrypto(nodeCrypto, Buffer);
  const nodeSidecar = await PeerSession.create(sidecarId, pwaId.publicKey, 'sidecar', fast);
  const nodePwa = await PeerSession.create(pwaId, sidecarId.publicKey, 'pwa', fast);
  const openssl = nodeAead(nodeCrypto, 0);
  const best = nodeFrameCryptoBest();
  const sidecarSession = await PeerSession.create(sidecarId, pwaId.publicKey, 'sidecar', best.frameCrypto);
  const pwaSession = await PeerSession.create(pwaId, sidecarId.publicKey, 'pwa', best.frameCrypto);
  const plain = new TextEncoder().encode(JSON.stringify({ p: payload }));
  const header = (seq: number) => ({
    from: sidecar.selfDeviceId,
    to: sidecar.peerDeviceId,
    type: 'chat',
    id: `chat-bench${seq}`,
    seq,
  });
  const sealed = sidecar.seal(header(1), plain);
  if (pwa.open(header(1), sealed).length !== plain.length) throw new Error('crypto: open did not round-trip');
  if (nodePwa.open(header(1), sealed).length !== plain.length) throw new Error('crypto: node open did not round-trip');
  const key = s.crypto_aead_xchacha20poly1305_ietf_keygen();
  const nonce = s.randombytes_buf(24);
  const ad = new TextEncoder().encode(`oppie-e2e-v1\n${sidecar.selfDeviceId}\n${sidecar.peerDeviceId}\nchat\nid\n1`);
  const ct = s.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, ad, null, nonce, key);
  const bytes = fromB64u(sealed);
  const nodeText = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
  if (nodeText !== sealed) throw new Error('crypto: Node base64url differs from the SDK codec');
  return {
    label,
    plaintextBytes: plain.length,
    iterations,
    seal: timeIt(iterations, (i) => sidecar.seal(header(i), plain)),
    open: timeIt(iterations, () => pwa.open(header(1), sealed)),
    nodeSeal: timeIt(iterations, (i) => nodeSidecar.seal(header(i), plain)),
    nodeOpen: timeIt(iterations, () => nodePwa.open(header(1), sealed)),
    sidecarSeal: timeIt(iterations, (i) => sidecarSession.seal(header(i), plain)),
    sidecarOpen: timeIt(iterations, () => pwaSession.open(header(1), sealed)),
    nonce: timeIt(iterations, () => s.randombytes_buf(24)),
    nodeNonce: timeIt(iterations, () => globalThis.crypto.getRandomValues(new Uint8Array(24))),
    aeadEncrypt: timeIt(iterations, () => s.crypto_aead_xchacha20poly1305_ietf_encrypt(plain, ad, null, nonce, key)),
    aeadDecrypt: timeIt(iterations, () => s.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ct, ad, nonce, key)),
    nodeAeadEncrypt: timeIt(iterations, () => openssl.seal(key, nonce, ad, plain)),
    nodeAeadDecrypt: timeIt(iterations, () => openssl.open(key, nonce, ad, ct)),
    nativeAeadEncrypt: timeIt(iterations, () => best.frameCrypto.aead.seal(key, nonce, ad, plain)),
    nativeAeadDecrypt: timeIt(iterations, () => best.frameCrypto.aead.open(key, nonce, ad, ct)),
    sdkToB64u: timeIt(iterations, () => toB64u(bytes)),
    sdkFromB64u: timeIt(iterations, () => fromB64u(sealed)),
    nodeToB64u: timeIt(iterations, () =>
      Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url'),
    ),
    nodeFromB64u: timeIt(iterations, () => Buffer.from(sealed, 'base64url')),
  };
}
