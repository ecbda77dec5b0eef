/**
 * The pairing link the sidecar shows (as a QR code and as copyable text) and the PWA opens.
 *
 * `oppie://pair?v=1&relay=<url>&code=<code>&sidecar=<deviceId>&pk=<publicKey>#s=<secret>`
 *
 * The secret sits in the fragment, which browsers never send in a request: the relay sees the code (it must, to
 * pair) but never the secret that the end-to-end pairing proof (proof.ts) is keyed with.
 */
import { deviceIdOf } from '../crypto/identity.js';
import { fromB64u, toB64u } from '../crypto/sodium.js';
import { OppieError } from '../errors.js';

/** What a pairing link carries. */
export interface PairingLink {
  /** The relay's base URL (http or https). */
  relayUrl: string;
  /** The relay's one-time pairing code (`POST /api/pairing`). */
  code: string;
  sidecarDeviceId: string;
  /** The sidecar's Ed25519 public key, base64url. */
  sidecarPublicKey: string;
  /** 32 random bytes, base64url: keys the end-to-end pairing proof; never sent to the relay. */
  secret: string;
}

const PREFIX = 'oppie://pair?';
const CODE = /^[A-Za-z0-9_-]{3,64}$/;
const DEVICE_ID = /^[A-Za-z0-9_-]{8,64}$/;
const MAX_LINK = 2048;

/**
 * A fresh pairing secret: 32 bytes from the platform CSPRNG, base64url.
 *
 * @example
 * const secret = newPairingSecret();
 */
export function newPairingSecret(): string {
  return toB64u(globalThis.crypto.getRandomValues(new Uint8Array(32)));
}

/**
 * Builds the link text. The fields are validated as {@link parsePairingLink} would, so a sidecar cannot show a
 * link that the PWA will refuse.
 *
 * @throws OppieError OPPIE_ERR_PAIRING_LINK when a field is malformed
 * @example
 * const text = formatPairingLink({ relayUrl, code, sidecarDeviceId, sidecarPublicKey, secret: newPairingSecret() });
 */
export function formatPairingLink(l: PairingLink): string {
  checkFields(l);
  const q = new URLSearchParams({
    v: '1',
    relay: l.relayUrl,
    code: l.code,
    sidecar: l.sidecarDeviceId,
    pk: l.sidecarPublicKey,
  });
  return `${PREFIX}${q.toString()}#s=${l.secret}`;
}

/**
 * Parses and validates a link. Unknown query parameters are ignored (a later version may add some); a repeated
 * known one is refused, since two readers could pick different copies.
 *
 * @throws OppieError OPPIE_ERR_PAIRING_LINK naming what is wrong
 * @example
 * const link = parsePairingLink(scannedText);
 * await verifyPairingLinkIdentity(link);
 */
export function parsePairingLink(s: string): PairingLink {
  if (typeof s !== 'string') throw bad('a pairing link is a string');
  const text = s.trim();
  if (text.length > MAX_LINK) throw bad(`the link is longer than ${MAX_LINK} characters`);
  if (!text.startsWith(PREFIX)) throw bad('the link does not start with oppie://pair?');
  const hashAt = text.indexOf('#');
  if (hashAt < 0) throw bad('the link has no #s=<secret> fragment (was it cut when copied?)');
  const query = new URLSearchParams(text.slice(PREFIX.length, hashAt));
  const fragment = new URLSearchParams(text.slice(hashAt + 1));
  const one = (params: URLSearchParams, name: string): string => {
    const all = params.getAll(name);
    if (all.length === 0) throw bad(`the link has no "${name}"`);
    if (all.length > 1) throw bad(`the link has "${name}" more than once`);
    return all[0] as string;
  };
  const v = one(query, 'v');
  if (v !== '1') throw bad(`unsupported pairing link version ${v}: update the app`);
  const link: PairingLink = {
    relayUrl: one(query, 'relay'),
    code: one(query, 'code'),
    sidecarDeviceId: one(query, 'sidecar'),
    sidecarPublicKey: one(query, 'pk'),
    secret: one(fragment, 's'),
  };
  checkFields(link);
  return link;
}

/**
 * Checks that the link's sidecar id is the one its public key derives to (it is async because SHA-256 is only
 * asynchronous in WebCrypto). The PWA must also check that the relay's claim answer names the same
 * `sidecarDeviceId`, so the relay cannot hand it a different sidecar.
 *
 * @throws OppieError OPPIE_ERR_PAIRING_LINK when they differ
 * @example
 * await verifyPairingLinkIdentity(parsePairingLink(text));
 */
export async function verifyPairingLinkIdentity(link: PairingLink): Promise<void> {
  const derived = await deviceIdOf(fromB64u(link.sidecarPublicKey));
  if (derived !== link.sidecarDeviceId) throw bad('the sidecar id does not belong to the sidecar public key');
}

function checkFields(l: PairingLink): void {
  let url: URL;
  try {
    url = new URL(l.relayUrl);
  } catch (err) {
    throw bad('relay is not a URL', err);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw bad('relay must be an http(s) URL');
  if (typeof l.code !== 'string' || !CODE.test(l.code)) throw bad('code is malformed');
  if (typeof l.sidecarDeviceId !== 'string' || !DEVICE_ID.test(l.sidecarDeviceId)) throw bad('sidecar is malformed');
  key32(l.sidecarPublicKey, 'pk');
  key32(l.secret, 'the secret');
}

function key32(value: string, name: string): void {
  let bytes: Uint8Array;
  try {
    bytes = fromB64u(value);
  } catch (err) {
    throw bad(`${name} is not base64url`, err);
  }
  if (bytes.length !== 32) throw bad(`${name} is not 32 bytes`);
}

function bad(message: string, cause?: unknown): OppieError {
  return new OppieError('OPPIE_ERR_PAIRING_LINK', `pairing link: ${message}`, { cause });
}
