/**
 * Device identities for tests: an Ed25519 keypair made on the "device", proofs of possession over relay challenges,
 * and the REST calls that register a sidecar, pair a PWA to it and refresh a token.
 */
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { type Proof, type ProofPurpose, proofMessage, type RoleName } from '@oppie/protocol';
import { type ApiOptions, apiOk } from './http.js';

/** A device keypair; `publicKey` is the raw 32-byte Ed25519 key, base64url, as the relay expects it. */
export interface DeviceKey {
  readonly publicKey: string;
  readonly privateKey: KeyObject;
}

/** A registered device and its current access token. */
export interface TestDevice extends DeviceKey {
  readonly deviceId: string;
  readonly accountId: string;
  readonly role: RoleName;
  readonly name: string;
  readonly token: string;
  /** Token expiry, milliseconds since the epoch. */
  readonly expiresAt: number;
}

/** A PWA paired to a sidecar. */
export interface PairedDevice extends TestDevice {
  readonly sidecarDeviceId: string;
}

interface TokenBody {
  token: string;
  expiresAt: number;
  deviceId: string;
  accountId: string;
  role: RoleName;
}

/** Options of the calls below: a fixed key (to re-register or collide), and the HTTP options. */
export interface DeviceCallOptions extends ApiOptions {
  readonly key?: DeviceKey | undefined;
}

/**
 * @example
 * const key = generateDeviceKey();
 * const proof = signProof('register', key, challenge);
 */
export function generateDeviceKey(): DeviceKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const jwk = publicKey.export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('Ed25519 JWK export has no x');
  return { publicKey: jwk.x, privateKey };
}

/** Signs `proofMessage(purpose, …)` over a challenge with the device key. */
export function signProof(purpose: ProofPurpose, key: DeviceKey, challenge: string): Proof {
  const message = proofMessage(purpose, { publicKey: key.publicKey, challenge });
  const signature = sign(null, Buffer.from(message, 'utf8'), key.privateKey).toString('base64url');
  return { publicKey: key.publicKey, signature, challenge };
}

/** Fetches a fresh single-use challenge (`GET /api/auth/challenge`). */
export async function getChallenge(url: string, opts: ApiOptions = {}): Promise<string> {
  const res = await apiOk<{ challenge: string }>(url, 'GET', '/api/auth/challenge', undefined, opts);
  return res.challenge;
}

/** A proof over a fresh challenge: the usual first step of every auth call. */
export async function freshProof(
  url: string,
  purpose: ProofPurpose,
  key: DeviceKey,
  opts: ApiOptions = {},
): Promise<Proof> {
  return signProof(purpose, key, await getChallenge(url, opts));
}

function toDevice(body: TokenBody, key: DeviceKey, name: string): TestDevice {
  return {
    deviceId: body.deviceId,
    accountId: body.accountId,
    role: body.role,
    name,
    token: body.token,
    expiresAt: body.expiresAt,
    publicKey: key.publicKey,
    privateKey: key.privateKey,
  };
}

/**
 * Registers a sidecar, which creates its account (`POST /api/auth/register`).
 *
 * @example
 * const sidecar = await registerDevice(url, 'workstation');
 */
export async function registerDevice(url: string, name: string, opts: DeviceCallOptions = {}): Promise<TestDevice> {
  const key = opts.key ?? generateDeviceKey();
  const proof = await freshProof(url, 'register', key, opts);
  const body = await apiOk<TokenBody>(url, 'POST', '/api/auth/register', { proof, name }, opts);
  return toDevice(body, key, name);
}

/** Asks the relay for a one-time pairing code with a sidecar's token (`POST /api/pairing`). */
export async function createPairingCode(
  url: string,
  sidecarToken: string,
  opts: ApiOptions = {},
): Promise<{ code: string; expiresAt: number; maxAttempts: number }> {
  return apiOk(url, 'POST', '/api/pairing', {}, { ...opts, token: sidecarToken });
}

/**
 * Pairs a new PWA to the sidecar holding `sidecarToken`: a fresh pairing code, then a claim signed with purpose
 * `pair:<code>`. The PWA joins the sidecar's account.
 *
 * @example
 * const phone = await pairDevice(url, sidecar.token, 'phone');
 * expect(phone.accountId).toBe(sidecar.accountId);
 */
export async function pairDevice(
  url: string,
  sidecarToken: string,
  name: string,
  opts: DeviceCallOptions = {},
): Promise<PairedDevice> {
  const { code } = await createPairingCode(url, sidecarToken, opts);
  const key = opts.key ?? generateDeviceKey();
  const proof = await freshProof(url, `pair:${code}`, key, opts);
  const body = await apiOk<TokenBody & { sidecarDeviceId: string }>(
    url,
    'POST',
    '/api/pairing/claim',
    { code, proof, name },
    opts,
  );
  return { ...toDevice(body, key, name), sidecarDeviceId: body.sidecarDeviceId };
}

/**
 * Gets a new token for a registered device (`POST /api/auth/token`) and returns the device with it.
 *
 * @example
 * const renewed = await refreshToken(url, phone);
 */
export async function refreshToken<D extends TestDevice>(url: string, device: D, opts: ApiOptions = {}): Promise<D> {
  const proof = await freshProof(url, 'token', device, opts);
  const body = await apiOk<TokenBody>(url, 'POST', '/api/auth/token', { proof }, opts);
  return { ...device, token: body.token, expiresAt: body.expiresAt };
}
