/**
 * The bench's "encryption off" frame cipher: the SDK exactly as shipped (framing, base64url, outbox, inbox, receipts,
 * pacing) with the AEAD replaced by a copy. Frames keep their size (the nonce is still drawn, 16 zero bytes stand in
 * for the tag), so the only difference from the real SDK path is what XChaCha20-Poly1305 costs: the cost of
 * end-to-end encryption that the targets of the SDK issue are about.
 *
 * Bench only: nothing here is exported by an SDK package, and a PeerSession built on it authenticates nothing.
 */
import * as nodeCrypto from 'node:crypto';
import { type Aead, type FrameCrypto, jsBase64url, nodeFrameCrypto } from '@oppie/client-sdk';

const TAG_BYTES = 16;

/** ciphertext = plaintext || 16 zero bytes; open strips them. */
const copyAead: Aead = {
  seal(_key, _nonce, _ad, plaintext) {
    const out = new Uint8Array(plaintext.length + TAG_BYTES);
    out.set(plaintext);
    return out;
  },
  open(_key, _nonce, _ad, sealed) {
    if (sealed.length < TAG_BYTES) throw new Error('frame shorter than a tag');
    return sealed.subarray(0, sealed.length - TAG_BYTES);
  },
};

/** The same codec as the measured backend (`node`: Buffer; `portable`: the SDK's JS codec), without the AEAD. */
export function clearFrameCrypto(backend: 'node' | 'portable'): FrameCrypto {
  const base64url = backend === 'node' ? nodeFrameCrypto(nodeCrypto, Buffer).base64url : jsBase64url;
  return { aead: copyAead, base64url };
}
