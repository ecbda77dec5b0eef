/** Pairing: the link and QR code the sidecar shows, and the end-to-end proof both sides exchange. */
export { type OfferedPairing, pwaAcceptConfirm, pwaHello, sidecarAcceptHello } from './handshake.js';
export {
  formatPairingLink,
  newPairingSecret,
  type PairingLink,
  parsePairingLink,
  verifyPairingLinkIdentity,
} from './link.js';
export {
  decodePairConfirm,
  decodePairHello,
  encodePairConfirm,
  encodePairHello,
  type PairConfirm,
  type PairHello,
} from './messages.js';
export { pwaProof, shortAuthString, sidecarProof, verifyPwaProof, verifySidecarProof } from './proof.js';
export { pairingQrSvg, pairingQrTerminal } from './qr.js';
