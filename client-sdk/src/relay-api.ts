/**
 * The relay's REST API as the SDK uses it: proofs of key possession, tokens, pairing codes, devices, OTP step-up and
 * Web Push registration.
 */
import {
  type DeviceInfo,
  type PairingClaimRequest,
  type Proof,
  type ProofPurpose,
  type PushSubscriptionRequest,
  proofMessage,
  type TokenResponse,
} from '@oppie/protocol';
import { type Identity, signProof } from './crypto/identity.js';
import { toB64u } from './crypto/sodium.js';
import { OppieError } from './errors.js';

/**
 * How long one REST call may take, answer included. Without a bound a request into a dead connection (a network
 * switch, a captive portal) waits minutes in Node and forever in a browser, and whatever waits on it (fresh TURN
 * credentials for every direct-path attempt) with it.
 */
export const REQUEST_TIMEOUT_MS = 15_000;

export class RelayApi {
  constructor(
    readonly baseUrl: string,
    private readonly fetchFn: typeof globalThis.fetch,
    private readonly timeoutMs = REQUEST_TIMEOUT_MS,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    // Browsers before 2022 lack AbortSignal.timeout: they wait as before rather than fail every call.
    const signal = typeof AbortSignal.timeout === 'function' ? AbortSignal.timeout(this.timeoutMs) : undefined;
    const timedOut = (err: unknown) =>
      new OppieError('OPPIE_ERR_TIMEOUT', `the relay did not answer ${method} ${path} within ${this.timeoutMs} ms`, {
        cause: err,
      });
    let res: Response;
    try {
      res = await this.fetchFn(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(signal !== undefined && { signal }),
        ...(body !== undefined && { body: JSON.stringify(body) }),
      });
    } catch (err) {
      if (signal?.aborted === true) throw timedOut(err);
      throw new OppieError('OPPIE_ERR_RELAY', `relay unreachable: ${(err as Error).message}`, { cause: err });
    }
    let parsed: unknown;
    try {
      const text = await res.text();
      parsed = text === '' ? undefined : (JSON.parse(text) as unknown);
    } catch (err) {
      if (signal?.aborted === true) throw timedOut(err);
      // A response cut short on the way: transient, like any network failure.
      throw new OppieError('OPPIE_ERR_RELAY', `incomplete response from the relay: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (!res.ok) {
      const e = (parsed ?? {}) as { code?: string; message?: string };
      const auth = res.status === 401 || res.status === 403;
      throw new OppieError(auth ? 'OPPIE_ERR_AUTH' : 'OPPIE_ERR_RELAY', `${e.code ?? res.status}: ${e.message ?? ''}`, {
        ...(e.code !== undefined && { relayCode: e.code }),
      });
    }
    return parsed as T;
  }

  /** A proof of possession for `purpose`, bound to a fresh server challenge. */
  async proof(identity: Identity, purpose: ProofPurpose): Promise<Proof> {
    const { challenge } = await this.call<{ challenge: string }>('GET', '/api/auth/challenge');
    const publicKey = toB64u(identity.publicKey);
    return { publicKey, challenge, signature: signProof(identity, proofMessage(purpose, { publicKey, challenge })) };
  }

  async register(identity: Identity, name: string, enrollmentToken?: string): Promise<TokenResponse> {
    const proof = await this.proof(identity, 'register');
    return this.call('POST', '/api/auth/register', { proof, name, ...(enrollmentToken && { enrollmentToken }) });
  }

  async token(identity: Identity): Promise<TokenResponse> {
    return this.call('POST', '/api/auth/token', { proof: await this.proof(identity, 'token') });
  }

  async createPairing(token: string): Promise<{ code: string; expiresAt: number; maxAttempts: number }> {
    return this.call('POST', '/api/pairing', {}, token);
  }

  async claimPairing(
    identity: Identity,
    code: string,
    name: string,
  ): Promise<TokenResponse & { sidecarDeviceId: string }> {
    const body: PairingClaimRequest = { code, name, proof: await this.proof(identity, `pair:${code}`) };
    return this.call('POST', '/api/pairing/claim', body);
  }

  async devices(token: string): Promise<DeviceInfo[]> {
    return (await this.call<{ devices: DeviceInfo[] }>('GET', '/api/auth/devices', undefined, token)).devices;
  }

  /** STUN and TURN servers with TURN credentials minted for this device (they expire: see `expiresAt`). */
  async turnCredentials(token: string): Promise<{ iceServers: unknown[]; expiresAt: number }> {
    return this.call<{ iceServers: unknown[]; expiresAt: number }>('GET', '/api/turn/credentials', undefined, token);
  }

  async revoke(token: string, deviceId: string): Promise<void> {
    await this.call('DELETE', `/api/auth/devices/${encodeURIComponent(deviceId)}`, undefined, token);
  }

  /** POST /api/auth/otp/enroll: a pending TOTP secret for the account (confirmed by the first verify). */
  async enrollOtp(token: string): Promise<{ secret: string; uri: string }> {
    return this.call('POST', '/api/auth/otp/enroll', {}, token);
  }

  /** POST /api/auth/otp/verify: a token carrying a fresh step-up. */
  async verifyOtp(token: string, code: string): Promise<TokenResponse> {
    return this.call('POST', '/api/auth/otp/verify', { code }, token);
  }

  /** GET /api/push/vapid-public-key: the applicationServerKey, base64url. */
  async vapidPublicKey(): Promise<string> {
    return (await this.call<{ publicKey: string }>('GET', '/api/push/vapid-public-key')).publicKey;
  }

  /** PUT /api/push/subscription: stores this PWA's subscription, replacing the previous one. */
  async putPushSubscription(token: string, sub: PushSubscriptionRequest): Promise<void> {
    await this.call('PUT', '/api/push/subscription', sub, token);
  }

  /** DELETE /api/push/subscription. */
  async deletePushSubscription(token: string): Promise<void> {
    await this.call('DELETE', '/api/push/subscription', undefined, token);
  }
}
