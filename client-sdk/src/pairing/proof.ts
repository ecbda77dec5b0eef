/**
 * The end-to-end pairing proof. Each side shows that it knows the pairing secret of the link with an HMAC-SHA256
 * keyed by the secret over a transcript of role, code and both public keys. The relay never sees the secret, so it
 * cannot make a proof for a key it substituted; and because the transcript names both keys, a substitution on either
 * side breaks the proof the other side checks.
 *
 * HMAC comes from WebCrypto: the standard libsodium.js build has no crypto_auth_hmacsha256.
 */
import { fromB64u, sodiumReady, toB64u, utf8 } from '../crypto/sodium.js';
import { OppieError } from '../errors.js';

const LABEL = 'oppie-pair-v1';

type Purpose = 'proof:pwa' | 'proof:sidecar' | 'sas';

/**
 * The transcript: label, purpose, code and both keys, newline-separated. The code is the only free-form field, so a
 * newline in it is refused; the keys are canonical base64url (fromB64u refuses any other spelling of the same bytes).
 */
function transcript(purpose: Purpose, code: string, sidecarPk: string, pwaPk: string): Uint8Array {
  if (typeof code !== 'string' || code.length === 0 || code.includes('\n')) {
    throw new OppieError('OPPIE_ERR_PROTOCOL', 'pairing code is malformed');
  }
  for (const [name, pk] of [
    ['sidecar', sidecarPk],
    ['pwa', pwaPk],
  ] as const) {
    if (fromB64u(pk).length !== 32) throw new OppieError('OPPIE_ERR_PROTOCOL', `${name} public key is not 32 bytes`);
  }
  return utf8(`${LABEL}\n${purpose}\n${code}\n${sidecarPk}\n${pwaPk}`);
}

async function hmac(secret: string, message: Uint8Array): Promise<Uint8Array> {
  const key = fromB64u(secret);
  if (key.length !== 32) throw new OppieError('OPPIE_ERR_PROTOCOL', 'the pairing secret is not 32 bytes');
  const subtle = globalThis.crypto.subtle;
  const k = await subtle.importKey('raw', new Uint8Array(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle.sign('HMAC', k, new Uint8Array(message)));
}

async function prove(purpose: Purpose, secret: string, code: string, sidecarPk: string, pwaPk: string) {
  return toB64u(await hmac(secret, transcript(purpose, code, sidecarPk, pwaPk)));
}

async function check(
  purpose: Purpose,
  secret: string,
  code: string,
  sidecarPk: string,
  pwaPk: string,
  proof: string,
): Promise<boolean> {
  const expected = await hmac(secret, transcript(purpose, code, sidecarPk, pwaPk));
  let given: Uint8Array;
  try {
    given = fromB64u(proof);
  } catch {
    // A proof that is not even base64url is simply a failed proof; the caller reports OPPIE_ERR_PAIRING_PROOF.
    return false;
  }
  const s = await sodiumReady();
  // memcmp is constant time: a timing oracle on the comparison would let a relay forge a proof byte by byte.
  return given.length === expected.length && s.memcmp(given, expected);
}

/**
 * The PWA's proof, sent in {@link PairHello}. All keys and the secret are base64url.
 *
 * @throws OppieError OPPIE_ERR_PROTOCOL when an input is malformed
 * @example
 * const proof = await pwaProof(link.secret, link.code, link.sidecarPublicKey, toB64u(identity.publicKey));
 */
export function pwaProof(secret: string, code: string, sidecarPk: string, pwaPk: string): Promise<string> {
  return prove('proof:pwa', secret, code, sidecarPk, pwaPk);
}

/**
 * The sidecar's proof, sent in {@link PairConfirm}. Its role label differs from the PWA's, so a relay cannot reflect
 * the PWA's own proof back to it as the sidecar's.
 *
 * @example
 * const proof = await sidecarProof(secret, code, toB64u(identity.publicKey), hello.pwaPublicKey);
 */
export function sidecarProof(secret: string, code: string, sidecarPk: string, pwaPk: string): Promise<string> {
  return prove('proof:sidecar', secret, code, sidecarPk, pwaPk);
}

/**
 * Checks a PWA proof in constant time. Run on the sidecar.
 *
 * @returns true only when the proof was made with this secret over this code and these two keys
 * @example
 * if (!(await verifyPwaProof(secret, code, sidecarPk, hello.pwaPublicKey, hello.proof))) refuse();
 */
export function verifyPwaProof(
  secret: string,
  code: string,
  sidecarPk: string,
  pwaPk: string,
  proof: string,
): Promise<boolean> {
  return check('proof:pwa', secret, code, sidecarPk, pwaPk, proof);
}

/**
 * Checks a sidecar proof in constant time. Run on the PWA.
 *
 * @example
 * if (!(await verifySidecarProof(link.secret, link.code, link.sidecarPublicKey, myPk, confirm.proof))) refuse();
 */
export function verifySidecarProof(
  secret: string,
  code: string,
  sidecarPk: string,
  pwaPk: string,
  proof: string,
): Promise<boolean> {
  return check('proof:sidecar', secret, code, sidecarPk, pwaPk, proof);
}

/**
 * A 6-digit short authentication string both screens show, for the user to compare. It is a cross-check, not the
 * defence: see docs/security.md for what it does and does not add when the secret itself has leaked.
 *
 * @example
 * const sas = await shortAuthString(secret, code, sidecarPk, pwaPk); // '048213'
 */
export async function shortAuthString(secret: string, code: string, sidecarPk: string, pwaPk: string): Promise<string> {
  const mac = await hmac(secret, transcript('sas', code, sidecarPk, pwaPk));
  // 2^32 mod 10^6 leaves a bias below 2.3e-4 relative per digit string: irrelevant for a visual comparison.
  const n = new DataView(mac.buffer, mac.byteOffset, 4).getUint32(0);
  return String(n % 1_000_000).padStart(6, '0');
}

export {
  decodePairConfirm,
  decodePairHello,
  encodePairConfirm,
  encodePairHello,
  type PairConfirm,
  type PairHello,
} from './messages.js';
