/** End-to-end cryptography of the SDK: libsodium loading, device identity and per-peer frame encryption. */
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
