/**
 * Test harness of the auth service: a relay app with the auth routes on a temporary DATA_DIR, driven by
 * app.inject() (no port), a movable clock, and device keys that sign proofs of either form.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Proof, type ProofPurpose, proofMessage, type TokenResponse } from '@oppie/protocol';
import pino from 'pino';
import { type Audit, createAudit } from '../../src/audit.js';
import { type Auth, type AuthLimitOptions, createAuth, registerAuthRoutes } from '../../src/auth/index.js';
import { loadConfig, type RelayConfig } from '../../src/config.js';
import { type App, createApp } from '../../src/http/app.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { type Database, openDatabase } from '../../src/store/sqlite/index.js';

export interface DeviceKey {
  readonly publicKey: string;
  readonly privateKey: KeyObject;
}

export function deviceKey(): DeviceKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return { publicKey: publicKey.export({ format: 'jwk' }).x as string, privateKey };
}

/** A proof over a challenge, or (challenge omitted) over a timestamp and a fresh nonce. */
export function proofFor(
  purpose: ProofPurpose,
  key: DeviceKey,
  form: { challenge: string } | { timestamp: number; nonce?: string },
): Proof {
  const fields =
    'challenge' in form
      ? { challenge: form.challenge }
      : { timestamp: form.timestamp, nonce: form.nonce ?? randomBytes(16).toString('base64url') };
  const message = proofMessage(purpose, { publicKey: key.publicKey, ...fields });
  const signature = sign(null, Buffer.from(message, 'utf8'), key.privateKey).toString('base64url');
  return { publicKey: key.publicKey, signature, ...fields };
}

export interface Harness {
  readonly app: App;
  readonly auth: Auth;
  readonly config: RelayConfig;
  readonly db: Database;
  readonly metrics: Metrics;
  readonly dataDir: string;
  readonly clock: { t: number };
  readonly online: Set<string>;
  /** Audit lines written so far (only when the harness was made with `auditFile: true`). */
  auditText(): Promise<string>;
  call<T = Record<string, unknown>>(
    method: 'GET' | 'POST' | 'DELETE',
    url: string,
    opts?: { body?: unknown; token?: string; ip?: string },
  ): Promise<{ status: number; body: T }>;
  challenge(ip?: string): Promise<string>;
  register(opts?: { key?: DeviceKey; name?: string; enrollmentToken?: string; ip?: string }): Promise<Registered>;
  pair(
    sidecarToken: string,
    opts?: { key?: DeviceKey; name?: string },
  ): Promise<Registered & { sidecarDeviceId: string }>;
  close(): Promise<void>;
}

export type Registered = TokenResponse & { key: DeviceKey };

export interface HarnessOptions {
  readonly config?: Partial<Record<keyof RelayConfig, unknown>>;
  readonly dataDir?: string;
  readonly auditFile?: boolean;
  readonly limits?: Partial<AuthLimitOptions>;
  readonly clock?: { t: number };
}

export async function harness(opts: HarnessOptions = {}): Promise<Harness> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'oppie-auth-'));
  const config = loadConfig({}, [], { dataDir, ...opts.config });
  const db = openDatabase(dataDir);
  const metrics = createMetrics();
  const logger = pino({ level: 'silent' });
  const auditPath = join(dataDir, 'audit.jsonl');
  const audit: Audit = createAudit(opts.auditFile ? auditPath : 'silent');
  const clock = opts.clock ?? { t: Date.now() };
  const online = new Set<string>();
  let auth: Auth;
  try {
    auth = await createAuth({ config, db, audit, metrics, logger, now: () => clock.t, limits: opts.limits });
  } catch (err) {
    // A harness that fails to start (a test of a bad key, say) leaves no temporary directory behind.
    db.close();
    if (opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const app = await createApp({ logger, trustProxy: false, publicUrl: config.issuer, version: 'test' });
  registerAuthRoutes(app, { auth, config, online: async (ids) => new Set(ids.filter((id) => online.has(id))) });
  await app.ready();

  const h: Harness = {
    app,
    auth,
    config,
    db,
    metrics,
    dataDir,
    clock,
    online,
    async auditText() {
      await audit.flush();
      return readFileSync(auditPath, 'utf8');
    },
    async call(method, url, o = {}) {
      const res = await app.inject({
        method,
        url,
        ...(o.body !== undefined && { payload: o.body as Record<string, unknown> }),
        headers: o.token === undefined ? {} : { authorization: `Bearer ${o.token}` },
        remoteAddress: o.ip ?? '127.0.0.1',
      });
      return { status: res.statusCode, body: (res.body.length > 0 ? res.json() : undefined) as never };
    },
    async challenge(ip) {
      const res = await h.call<{ challenge: string }>('GET', '/api/auth/challenge', { ip });
      if (res.status !== 200) throw new Error(`challenge: ${res.status}`);
      return res.body.challenge;
    },
    async register(o = {}) {
      const key = o.key ?? deviceKey();
      const proof = proofFor('register', key, { challenge: await h.challenge(o.ip) });
      const body = { proof, name: o.name ?? 'workstation', enrollmentToken: o.enrollmentToken };
      const res = await h.call<TokenResponse>('POST', '/api/auth/register', { body, ip: o.ip });
      if (res.status !== 201) throw new Error(`register: ${res.status} ${JSON.stringify(res.body)}`);
      return { ...res.body, key };
    },
    async pair(sidecarToken, o = {}) {
      const created = await h.call<{ code: string }>('POST', '/api/pairing', { token: sidecarToken });
      if (created.status !== 200) throw new Error(`pairing: ${created.status} ${JSON.stringify(created.body)}`);
      const key = o.key ?? deviceKey();
      const { code } = created.body;
      const proof = proofFor(`pair:${code}`, key, { challenge: await h.challenge() });
      const res = await h.call<TokenResponse & { sidecarDeviceId: string }>('POST', '/api/pairing/claim', {
        body: { code, proof, name: o.name ?? 'phone' },
      });
      if (res.status !== 200) throw new Error(`claim: ${res.status} ${JSON.stringify(res.body)}`);
      return { ...res.body, key };
    },
    async close() {
      await app.close();
      await auth.close();
      await audit.flush();
      db.close();
      if (opts.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return h;
}

/** The value of a labelled counter. */
export async function counter(
  metric: { get(): Promise<{ values: Array<{ value: number; labels: Record<string, unknown> }> }> },
  labels: Record<string, string>,
): Promise<number> {
  const { values } = await metric.get();
  const hit = values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return hit?.value ?? 0;
}
