/** End-to-end cryptography of the SDK: libsodium loading, device identity and per-peer frame encryption. */
export {
  type Aead,
  type Base64url,
  type BufferLike,
  type FrameCrypto,
  hchacha20,
  jsBase64url,
  NODE_AEAD_MIN_BYTES,
  type NodeCryptoLike,
  nativeSodiumAead,
  nodeAead,
  nodeBase64url,
  nodeFrameCrypto,
  type ResolvedFrameCrypto,
  type SodiumNativeLike,
  setDefaultFrameCrypto,
  sodiumAead,
} from './aead.js';
export {
  DEVICE_ID_LENGTH,
  deviceIdOf,
  generateIdentity,
  type Identity,
  parseIdentity,
  serializeIdentity,
  signProof,
} from './identity.js';
export { type FrameHeader, frameAd, PeerSession, type SessionRole } from './session.js';
export { fromB64u, type Sodium, sodiumReady, toB64u } from './sodium.js';
