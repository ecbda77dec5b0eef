/**
 * End-to-end encryption between two paired devices.
 *
 * Keys are static (derived from the two identities alone), so a frame queued at the relay for an offline peer still
 * opens when the peer returns; docs/security.md explains the forward-secrecy consequence. crypto_kx gives one key
 * per direction, so a frame can never be reflected back to its sender; the associated data binds the routing header,
 * so a relay that rewrites sender, recipient, type, id or seq makes the frame fail to open.
 */
import { OppieError } from '../errors.js';
import {
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  type FrameCrypto,
  type ResolvedFrameCrypto,
  resolveFrameCrypto,
} from './aead.js';
import { deviceIdOf, type Identity } from './identity.js';
import { sodiumReady, utf8 } from './sodium.js';

/** The envelope fields bound to a frame's ciphertext. `from` and `to` are device ids. */
export interface FrameHeader {
  from: string;
  to: string;
  type: string;
  id: string;
  seq: number;
}

export type SessionRole = 'sidecar' | 'pwa';

const NONCE_BYTES = AEAD_NONCE_BYTES;
const TAG_BYTES = AEAD_TAG_BYTES;
const AD_LABEL = 'oppie-e2e-v1';

/**
 * Nonces come from WebCrypto's generator in batches: one `getRandomValues` call costs about as much for 6 KiB as for
 * 24 bytes, and every seal needs a nonce. Each nonce is handed out once; nonces are public (they travel in front of
 * the ciphertext), so holding the batch in memory reveals nothing.
 */
const NONCE_POOL_BYTES = NONCE_BYTES * 256;
let noncePool = new Uint8Array(0);
let noncePoolAt = 0;

function freshNonce(): Uint8Array {
  if (noncePoolAt + NONCE_BYTES > noncePool.length) {
    noncePool = globalThis.crypto.getRandomValues(new Uint8Array(NONCE_POOL_BYTES));
    noncePoolAt = 0;
  }
  const nonce = noncePool.subarray(noncePoolAt, noncePoolAt + NONCE_BYTES);
  noncePoolAt += NONCE_BYTES;
  return nonce;
}

/**
 * The associated data of a frame. Fields are newline-separated, so a field holding a newline would make two headers
 * spell the same bytes; such headers are refused (the protocol's ids and types never contain one).
 */
export function frameAd(h: FrameHeader): Uint8Array | undefined {
  if (!adField(h.from) || !adField(h.to) || !adField(h.type) || !adField(h.id)) return undefined;
  if (!Number.isSafeInteger(h.seq) || h.seq < 0) return undefined;
  return utf8(`${AD_LABEL}\n${h.from}\n${h.to}\n${h.type}\n${h.id}\n${h.seq}`);
}

const adField = (f: unknown): boolean => typeof f === 'string' && !f.includes('\n');

/**
 * The encrypting end of one device pair. One instance per peer; it holds no per-frame state, so it may be shared by
 * every transport (relay, direct, TURN). Replays are refused by the delivery layer's sequence window, not here.
 *
 * @example
 * const session = await PeerSession.create(identity, peerPublicKey, 'pwa');
 * const payload = session.seal({ from: me, to: peer, type: 'chat', id, seq }, bytes);
 * // on the other device, with the same header:
 * const bytes = session.open(header, payload);
 */
export class PeerSession {
  /** This device's id (the only valid `from` for seal, `to` for open). */
  readonly selfDeviceId: string;
  /** The peer's id (the only valid `to` for seal, `from` for open). */
  readonly peerDeviceId: string;

  private constructor(
    private readonly c: ResolvedFrameCrypto,
    private readonly tx: Uint8Array,
    private readonly rx: Uint8Array,
    selfDeviceId: string,
    peerDeviceId: string,
  ) {
    this.selfDeviceId = selfDeviceId;
    this.peerDeviceId = peerDeviceId;
  }

  /**
   * Derives the two direction keys: Ed25519 identities converted to X25519, then crypto_kx with the sidecar as
   * server and the PWA as client, so both ends agree on which key is which direction's. `backend` replaces the
   * AEAD and base64url codec (same bytes, faster on some runtimes); parts left out come from
   * {@link setDefaultFrameCrypto}, else libsodium and the SDK's codec.
   *
   * @throws OppieError OPPIE_ERR_PROTOCOL when the peer key is malformed, weak, or this device's own key
   * @example
   * const session = await PeerSession.create(identity, fromB64u(link.sidecarPublicKey), 'pwa');
   */
  static async create(
    self: Identity,
    peerPublicKey: Uint8Array,
    selfRole: SessionRole,
    backend?: Partial<FrameCrypto>,
  ): Promise<PeerSession> {
    const s = await sodiumReady();
    if (selfRole !== 'sidecar' && selfRole !== 'pwa') {
      throw new OppieError('OPPIE_ERR_PROTOCOL', `selfRole must be 'sidecar' or 'pwa'`);
    }
    if (!(peerPublicKey instanceof Uint8Array) || peerPublicKey.length !== 32) {
      throw new OppieError('OPPIE_ERR_PROTOCOL', 'the peer public key is not 32 bytes');
    }
    if (s.memcmp(peerPublicKey, self.publicKey)) {
      throw new OppieError('OPPIE_ERR_PROTOCOL', 'the peer public key is this device’s own key');
    }
    const selfX = s.crypto_sign_ed25519_pk_to_curve25519(self.publicKey);
    const selfSk = s.crypto_sign_ed25519_sk_to_curve25519(self.secretKey);
    let keys: { sharedRx: Uint8Array; sharedTx: Uint8Array };
    try {
      // Both calls throw on a key that is not a valid point or of small order (an all-zero shared secret).
      const peerX = s.crypto_sign_ed25519_pk_to_curve25519(peerPublicKey);
      keys =
        selfRole === 'sidecar'
          ? s.crypto_kx_server_session_keys(selfX, selfSk, peerX)
          : s.crypto_kx_client_session_keys(selfX, selfSk, peerX);
    } catch (err) {
      throw new OppieError('OPPIE_ERR_PROTOCOL', 'the peer public key is not a usable Ed25519 key', { cause: err });
    } finally {
      s.memzero(selfSk);
    }
    const [selfId, peerId] = await Promise.all([deviceIdOf(self.publicKey), deviceIdOf(peerPublicKey)]);
    return new PeerSession(resolveFrameCrypto(s, backend), keys.sharedTx, keys.sharedRx, selfId, peerId);
  }

  /**
   * Encrypts a frame to the peer: XChaCha20-Poly1305-IETF under this direction's key, a fresh random 24-byte nonce
   * (random nonces are safe at this size, so no counter state has to survive restarts), the header as associated
   * data.
   *
   * @returns base64url(nonce || ciphertext || tag)
   * @throws OppieError OPPIE_ERR_PROTOCOL when the header is not from this device to the peer, or malformed
   * @example
   * const payload = session.seal({ from: session.selfDeviceId, to: session.peerDeviceId, type, id, seq }, bytes);
   */
  seal(header: FrameHeader, plaintext: Uint8Array): string {
    return this.c.base64url.encode(this.sealInto(header, plaintext, 0));
  }

  /**
   * {@link PeerSession.seal} as bytes: nonce || ciphertext || tag, what `seal` would spell in base64url, as a view
   * `headroom` bytes into a new array whose first `headroom` bytes are the caller's. A sender that frames the bytes
   * itself (a binary data-channel message) writes its framing there instead of copying them into a new array, and
   * makes their text only if a path needs it (the relay).
   *
   * @example
   * const sealed = session.sealBytes(header, plain, 512);
   * sealed.byteOffset; // 512: free room in front, in sealed.buffer
   */
  sealBytes(header: FrameHeader, plaintext: Uint8Array, headroom: number): Uint8Array {
    if (!Number.isSafeInteger(headroom) || headroom < 0) throw new RangeError('headroom must be an integer >= 0');
    return this.sealInto(header, plaintext, headroom).subarray(headroom);
  }

  private sealInto(header: FrameHeader, plaintext: Uint8Array, headroom: number): Uint8Array {
    const ad = frameAd(header);
    if (ad === undefined) throw new OppieError('OPPIE_ERR_PROTOCOL', 'malformed frame header');
    if (header.from !== this.selfDeviceId || header.to !== this.peerDeviceId) {
      throw new OppieError('OPPIE_ERR_PROTOCOL', 'seal: the header must go from this device to the session peer');
    }
    // WebCrypto's generator (pooled): libsodium.js's randombytes_buf calls back into JS for the same bytes, ~20x slower.
    const nonce = freshNonce();
    // The nonce goes in front of the ciphertext in the same array (written once by a backend with its own sealAt).
    const out = this.c.aead.sealAt(this.tx, nonce, ad, plaintext, headroom + NONCE_BYTES);
    out.set(nonce, headroom);
    return out;
  }

  /**
   * Decrypts and authenticates a frame from the peer under the header it arrived with: its base64url text (the relay)
   * or its bytes (a binary data-channel message). Every failure has the same
   * code, so a caller (and an attacker watching it) cannot tell a bad tag from a rewritten header.
   *
   * Bytes are copied before they are decrypted, unless `consume` gives them up (a data-channel message that nothing
   * reads again): a backend that decrypts in place (native libsodium) then writes the plaintext over them and returns
   * a view of that memory, which saves a copy and an allocation of the frame's size; others return a new array
   * (libsodium.js). Either way consumed bytes are left undefined, also on a bad tag.
   *
   * @throws OppieError OPPIE_ERR_DECRYPT when the frame was tampered with, forged, reflected, or the header differs
   * @example
   * const bytes = session.open({ from: env.metadata.deviceId, to: env.to, type: env.type, id: env.id, seq: env.seq }, env.payload);
   */
  open(header: FrameHeader, ciphertext: string | Uint8Array, consume = false): Uint8Array {
    const ad = frameAd(header);
    if (ad === undefined || header.from !== this.peerDeviceId || header.to !== this.selfDeviceId) {
      throw new OppieError('OPPIE_ERR_DECRYPT', 'the frame header does not belong to this session');
    }
    let bytes: Uint8Array;
    try {
      // Bytes not given up are copied: the caller's array is not decrypted over. Not with .slice(): on a Node Buffer
      // (what simple-peer hands over, also in browsers) that is a view of the same memory.
      if (typeof ciphertext === 'string') bytes = this.c.base64url.decode(ciphertext);
      // Given up: a plain Uint8Array view all the same (a Buffer's slice() would share memory where callers copy).
      else if (consume) bytes = new Uint8Array(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength);
      else bytes = new Uint8Array(ciphertext);
    } catch (err) {
      throw new OppieError('OPPIE_ERR_DECRYPT', 'the frame payload is not base64url', { cause: err });
    }
    if (bytes.length < NONCE_BYTES + TAG_BYTES) throw new OppieError('OPPIE_ERR_DECRYPT', 'the frame is too short');
    try {
      // `bytes` is this call's own (decoded, copied or given up): the plaintext may be decrypted over it.
      return this.c.aead.openInPlace(this.rx, bytes.subarray(0, NONCE_BYTES), ad, bytes.subarray(NONCE_BYTES));
    } catch (err) {
      throw new OppieError('OPPIE_ERR_DECRYPT', undefined, { cause: err });
    }
  }
}
