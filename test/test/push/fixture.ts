/**
 * What the push tests share: a relay paired with a sidecar and a phone that trusts a local push service, a real
 * browser-like subscription key pair, and the checks a push service and a browser make on a push (VAPID, RFC 8291).
 */
import { createECDH, type ECDH, randomBytes } from 'node:crypto';
import {
  type ApiResponse,
  api,
  type PairedDevice,
  pairDevice,
  type RelayOverrides,
  type StartTestRelayOptions,
  startPushService,
  type TestPushService,
} from '@oppie/test-kit';
import ece from 'http_ece';
import { importJWK, type JWTPayload, jwtVerify } from 'jose';
import { type Pair, pairOnRelay } from '../relay/fixture.js';

export interface SubscriptionKeys {
  readonly ecdh: ECDH;
  readonly authSecret: Buffer;
  /** As `PushSubscription.toJSON().keys`. */
  readonly keys: { p256dh: string; auth: string };
}

/** What a browser makes for a subscription: a P-256 key pair and 16 random auth bytes. */
export function subscriptionKeys(): SubscriptionKeys {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const authSecret = randomBytes(16);
  return {
    ecdh,
    authSecret,
    keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: authSecret.toString('base64url') },
  };
}

export interface PushSetup extends Pair {
  readonly ps: TestPushService;
  readonly sub: SubscriptionKeys;
  /** The phone's endpoint on the local push service. */
  readonly endpoint: string;
  close(): Promise<void>;
}

/** A paired relay whose phone registered a subscription on a local push service. */
export async function pushSetup(overrides: RelayOverrides = {}, opts: StartTestRelayOptions = {}): Promise<PushSetup> {
  const ps = await startPushService();
  const pair = await pairOnRelay({ pushCaFile: ps.caFile, pushAllowPrivateEndpoints: true, ...overrides }, opts);
  const sub = subscriptionKeys();
  const endpoint = `${ps.url}/push/${pair.phone.deviceId}`;
  const res = await putSubscription(pair.t.url, pair.phone.token, { endpoint, keys: sub.keys });
  if (res.status !== 204) throw new Error(`subscription refused: ${JSON.stringify(res.body)}`);
  return {
    ...pair,
    ps,
    sub,
    endpoint,
    async close() {
      await pair.t.close();
      await ps.close();
    },
  };
}

/** Pairs another phone on the setup's relay, subscribed at `${ps.url}/push/<name>`. */
export async function subscribedPhone(
  p: PushSetup,
  name: string,
): Promise<{ phone: PairedDevice; sub: SubscriptionKeys; endpoint: string }> {
  const phone = await pairDevice(p.t.url, p.sidecar.token, name);
  const sub = subscriptionKeys();
  const endpoint = `${p.ps.url}/push/${name}`;
  const res = await putSubscription(p.t.url, phone.token, { endpoint, keys: sub.keys });
  if (res.status !== 204) throw new Error(`subscription refused: ${JSON.stringify(res.body)}`);
  return { phone, sub, endpoint };
}

export function putSubscription(url: string, token: string | undefined, body: unknown): Promise<ApiResponse> {
  return api(url, 'PUT', '/api/push/subscription', body, { token });
}

/** The value of a Prometheus counter sample (0 when absent). */
export async function counter(url: string, sample: string): Promise<number> {
  const text = await (await fetch(`${url}/api/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

export const pushCount = (url: string, outcome: string) => counter(url, `oppie_relay_push_total{outcome="${outcome}"}`);

/**
 * Checks the VAPID `Authorization: vapid t=<jwt>, k=<key>` header as a push service does (RFC 8292): an ES256 JWT
 * that verifies with `k`, for the endpoint's origin, expiring within 24 h. Returns the key and the claims.
 */
export async function verifyVapid(
  headers: Readonly<Record<string, string | string[] | undefined>>,
  endpoint: string,
): Promise<{ k: string; claims: JWTPayload }> {
  const m = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(String(headers.authorization));
  if (m === null) throw new Error(`not a VAPID authorization: ${String(headers.authorization)}`);
  const [, jwt, k] = m as unknown as [string, string, string];
  const point = Buffer.from(k, 'base64url');
  const key = await importJWK(
    {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33).toString('base64url'),
    },
    'ES256',
  );
  const { payload, protectedHeader } = await jwtVerify(jwt, key, {
    algorithms: ['ES256'],
    audience: new URL(endpoint).origin,
  });
  if (protectedHeader.alg !== 'ES256') throw new Error('VAPID JWT is not ES256');
  const now = Math.floor(Date.now() / 1000);
  if (payload.exp === undefined || payload.exp <= now || payload.exp > now + 24 * 3600) {
    throw new Error(`VAPID exp ${payload.exp} is not within 24 h`);
  }
  return { k, claims: payload };
}

/** Decrypts a push body as the browser does (RFC 8291, aes128gcm). */
export function decryptPush(body: Buffer, sub: SubscriptionKeys): string {
  return ece.decrypt(body, { version: 'aes128gcm', privateKey: sub.ecdh, authSecret: sub.authSecret }).toString('utf8');
}
