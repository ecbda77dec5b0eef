/**
 * The bench's "encryption off" frame cipher: the SDK exactly as shipped (framing, base64url, outbox, inbox, receipts,
 * pacing) with the AEAD replaced by a copy. Frames keep their size (the nonce is still drawn, 16 zero bytes stand in
 * for the tag), so the only difference from the real SDK path is what XChaCha20-Poly1305 costs: the cost of
 * end-to-end encryption that the targets of the SDK issue are about.
 *
 * Bench only: nothing here is exported by an SDK package, and a PeerSession built on it authenticates nothing.
 */
import { type Aead, type FrameCrypto, jsBase64url, nodeBase64url } from '@oppie/client-sdk';
import type { FrameBackend } from './frame-backend.js';

const TAG_BYTES = 16;

/**
 * ciphertext = plaintext || 16 zero bytes; open strips them. `sealAt` writes it once into the frame's array, as the
 * native backend does, so both paths allocate and copy the same.
 */
const copyAead: Aead = {
  seal(key, nonce, ad, plaintext) {
    return this.sealAt?.(key, nonce, ad, plaintext, 0) as Uint8Array;
  },
  sealAt(_key, _nonce, _ad, plaintext, offset) {
    const out = new Uint8Array(offset + plaintext.length + TAG_BYTES);
    out.set(plaintext, offset);
    return out;
  },
  open(_key, _nonce, _ad, sealed) {
    if (sealed.length < TAG_BYTES) throw new Error('frame shorter than a tag');
    return sealed.subarray(0, sealed.length - TAG_BYTES);
  },
};

/** The same codec as the measured backend (Buffer on Node; `portable`: the SDK's JS codec), without the AEAD. */
export function clearFrameCrypto(backend: FrameBackend): FrameCrypto {
  return { aead: copyAead, base64url: backend === 'portable' ? jsBase64url : nodeBase64url(Buffer) };
}
