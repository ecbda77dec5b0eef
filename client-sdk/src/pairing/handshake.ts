/**
 * The two-message pairing handshake carried in `pair` envelopes, with every check in one place so neither SDK can
 * forget one:
 *
 * 1. PWA -> sidecar, {@link pwaHello}: its public key and `pwaProof`.
 * 2. Sidecar, {@link sidecarAcceptHello}: the key belongs to the envelope's sender, the proof verifies; answers with
 *    `sidecarProof`.
 * 3. PWA, {@link pwaAcceptConfirm}: the sidecar's proof verifies over the same two keys.
 *
 * Both ends then show the same {@link shortAuthString} and build a PeerSession with the other's key.
 */
import { deviceIdOf } from '../crypto/identity.js';
import { fromB64u } from '../crypto/sodium.js';
import { OppieError } from '../errors.js';
import type { PairingLink } from './link.js';
import { decodePairConfirm, decodePairHello, encodePairConfirm, encodePairHello } from './messages.js';
import { pwaProof, shortAuthString, sidecarProof, verifyPwaProof, verifySidecarProof } from './proof.js';

/** What the sidecar remembers about a pairing it offered (everything in the link it showed). */
export interface OfferedPairing {
  code: string;
  secret: string;
  /** This sidecar's public key, base64url. */
  sidecarPublicKey: string;
}

/**
 * The PWA's `pair` payload.
 *
 * @example
 * send({ type: 'pair', to: link.sidecarDeviceId, payload: await pwaHello(link, toB64u(identity.publicKey)) });
 */
export async function pwaHello(link: PairingLink, pwaPublicKey: string): Promise<string> {
  const proof = await pwaProof(link.secret, link.code, link.sidecarPublicKey, pwaPublicKey);
  return encodePairHello({ v: 1, pwaPublicKey, proof });
}

/**
 * Sidecar side: checks a PairHello and makes the answer.
 *
 * @param senderDeviceId the relay-authenticated sender of the `pair` envelope (`metadata.deviceId`)
 * @returns the PWA's public key (to store and to build the PeerSession with), the SAS to show and the confirm payload
 * @throws OppieError OPPIE_ERR_PAIRING_PROOF when the key is not the sender's or the proof fails;
 *   OPPIE_ERR_PROTOCOL when the payload is malformed
 * @example
 * const { pwaPublicKey, sas, confirm } = await sidecarAcceptHello(offer, env.payload, env.metadata.deviceId);
 */
export async function sidecarAcceptHello(
  offer: OfferedPairing,
  payload: string,
  senderDeviceId: string,
): Promise<{ pwaPublicKey: string; sas: string; confirm: string }> {
  const hello = decodePairHello(payload);
  // Without this, a relay could replay an honest hello from another envelope sender and have the sidecar trust a key
  // under a device id that is not derived from it.
  if ((await deviceIdOf(fromB64u(hello.pwaPublicKey))) !== senderDeviceId) {
    throw new OppieError('OPPIE_ERR_PAIRING_PROOF', 'the PWA key in the pairing hello is not the sender’s key');
  }
  const { code, secret, sidecarPublicKey } = offer;
  if (!(await verifyPwaProof(secret, code, sidecarPublicKey, hello.pwaPublicKey, hello.proof))) {
    throw new OppieError('OPPIE_ERR_PAIRING_PROOF');
  }
  const proof = await sidecarProof(secret, code, sidecarPublicKey, hello.pwaPublicKey);
  return {
    pwaPublicKey: hello.pwaPublicKey,
    sas: await shortAuthString(secret, code, sidecarPublicKey, hello.pwaPublicKey),
    confirm: encodePairConfirm({ v: 1, proof }),
  };
}

/**
 * PWA side: checks the sidecar's PairConfirm.
 *
 * @returns the SAS to show
 * @throws OppieError OPPIE_ERR_PAIRING_PROOF when the proof fails; OPPIE_ERR_PROTOCOL when the payload is malformed
 * @example
 * const { sas } = await pwaAcceptConfirm(link, toB64u(identity.publicKey), env.payload);
 */
export async function pwaAcceptConfirm(
  link: PairingLink,
  pwaPublicKey: string,
  payload: string,
): Promise<{ sas: string }> {
  const confirm = decodePairConfirm(payload);
  const { secret, code, sidecarPublicKey } = link;
  if (!(await verifySidecarProof(secret, code, sidecarPublicKey, pwaPublicKey, confirm.proof))) {
    throw new OppieError('OPPIE_ERR_PAIRING_PROOF');
  }
  return { sas: await shortAuthString(secret, code, sidecarPublicKey, pwaPublicKey) };
}
