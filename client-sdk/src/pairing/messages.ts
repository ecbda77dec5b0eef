/**
 * The payloads of the routed `pair` envelope. They are base64url of JSON and not encrypted (no session key is trusted
 * yet), but everything that matters in them is bound by the pairing proof's MAC, so the relay can read them and
 * cannot usefully change them.
 */
import { fromB64u, toB64u, utf8 } from '../crypto/sodium.js';
import { OppieError } from '../errors.js';

/** PWA -> sidecar: the PWA's key and its proof of the pairing secret. */
export interface PairHello {
  v: 1;
  /** The PWA's Ed25519 public key, base64url. */
  pwaPublicKey: string;
  /** `pwaProof(...)`, base64url of 32 bytes. */
  proof: string;
}

/** Sidecar -> PWA: the sidecar's proof over the same transcript. */
export interface PairConfirm {
  v: 1;
  /** `sidecarProof(...)`, base64url of 32 bytes. */
  proof: string;
}

/** Far above a real message (about 150 bytes): a cap so a hostile payload cannot make the decoder work hard. */
const MAX_PAYLOAD = 1024;
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * @example
 * const payload = encodePairHello({ v: 1, pwaPublicKey, proof });
 */
export function encodePairHello(m: PairHello): string {
  return encode(checkHello(m));
}

/**
 * @throws OppieError OPPIE_ERR_PROTOCOL when the payload is not a well-formed PairHello
 * @example
 * const hello = decodePairHello(envelope.payload);
 */
export function decodePairHello(payload: string): PairHello {
  return checkHello(decode(payload));
}

/**
 * @example
 * const payload = encodePairConfirm({ v: 1, proof });
 */
export function encodePairConfirm(m: PairConfirm): string {
  return encode(checkConfirm(m));
}

/**
 * @throws OppieError OPPIE_ERR_PROTOCOL when the payload is not a well-formed PairConfirm
 * @example
 * const confirm = decodePairConfirm(envelope.payload);
 */
export function decodePairConfirm(payload: string): PairConfirm {
  return checkConfirm(decode(payload));
}

function encode(m: object): string {
  return toB64u(utf8(JSON.stringify(m)));
}

function decode(payload: string): Record<string, unknown> {
  if (typeof payload !== 'string' || payload.length > MAX_PAYLOAD) throw bad('payload missing or too large');
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(fromB64u(payload)));
  } catch (err) {
    throw bad('payload is not base64url JSON', err);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad('payload is not an object');
  return value as Record<string, unknown>;
}

function checkHello(m: unknown): PairHello {
  const o = m as Record<string, unknown>;
  exactKeys(o, ['v', 'pwaPublicKey', 'proof']);
  version(o);
  return { v: 1, pwaPublicKey: bytes32(o.pwaPublicKey, 'pwaPublicKey'), proof: bytes32(o.proof, 'proof') };
}

function checkConfirm(m: unknown): PairConfirm {
  const o = m as Record<string, unknown>;
  exactKeys(o, ['v', 'proof']);
  version(o);
  return { v: 1, proof: bytes32(o.proof, 'proof') };
}

/** Unknown fields are refused: they would travel outside the MAC, where the relay could add anything. */
function exactKeys(o: Record<string, unknown>, allowed: readonly string[]): void {
  if (typeof o !== 'object' || o === null) throw bad('not an object');
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw bad(`unexpected field "${k}"`);
}

function version(o: Record<string, unknown>): void {
  if (o.v !== 1) throw bad(`unsupported pairing message version ${String(o.v)}`);
}

function bytes32(value: unknown, name: string): string {
  if (typeof value !== 'string') throw bad(`${name} must be a string`);
  let length: number;
  try {
    length = fromB64u(value).length;
  } catch (err) {
    throw bad(`${name} is not base64url`, err);
  }
  if (length !== 32) throw bad(`${name} is not 32 bytes`);
  return value;
}

function bad(message: string, cause?: unknown): OppieError {
  return new OppieError('OPPIE_ERR_PROTOCOL', `pair message: ${message}`, { cause });
}
