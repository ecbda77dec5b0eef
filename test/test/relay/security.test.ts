import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAudit } from '@oppie/relay';
import {
  api,
  connectDevice,
  generateDeviceKey,
  pairDevice,
  refreshToken,
  registerDevice,
  signProof,
  startTestRelay,
  TestKitError,
} from '@oppie/test-kit';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Pair, pairOnRelay } from './fixture.js';
import { requireBinary } from './require-binary.js';

let p: Pair | undefined;
afterEach(async () => {
  await p?.t.close();
  p = undefined;
});

describe('revocation', () => {
  it('kicks a revoked device with 4500, refuses its token, and reports its queued envelopes as dropped', async () => {
    p = await pairOnRelay();
    const s = await p.connect(p.sidecar);
    const ph = await p.connect(p.phone);
    const pending = s.routed('progress', p.phone.deviceId, 'x');
    await ph.next('progress');
    await ph.close();
    await s.next('presence', (f) => !f.payload.online);
    const queued = s.routed('progress', p.phone.deviceId, 'y');
    await s.ackFor(queued.id);

    const ph2 = await p.connect(p.phone);
    const res = await api(p.t.url, 'DELETE', `/api/auth/devices/${p.phone.deviceId}`, undefined, {
      token: p.sidecar.token,
    });
    expect(res.status).toBe(204);
    // Whatever the revoked connection still sends is ignored, even before its close handshake completes.
    try {
      ph2.chat(p.sidecar.deviceId, 'after revoke');
    } catch {
      // The client may already be closing: then nothing was sent, which is fine too.
    }
    expect((await ph2.closed).code).toBe(4500);
    // The sidecar hears that the phone went for good (it closes any data channel to it on that word).
    const gone = await s.next('presence', (f) => f.payload.deviceId === p?.phone.deviceId && !f.payload.online);
    expect(gone.payload.revoked).toBe(true);
    await s.expectNone('chat', undefined, 300);
    const dropped = await s.next('dropped');
    expect(dropped.payload.reason).toBe('recipient_revoked');
    expect(dropped.payload.ids.sort()).toEqual([pending.id, queued.id].sort());

    try {
      await p.connect(p.phone);
      expect.unreachable('revoked device connected');
    } catch (err) {
      expect(err).toBeInstanceOf(TestKitError);
      expect((err as { status?: number }).status).toBe(401);
      expect((err as { body?: { code?: string } }).body?.code).toBe('RELAY_ERR_DEVICE_REVOKED');
    }
    const after = s.routed('chat', p.phone.deviceId, 'z');
    expect((await s.errorFor(after.id)).payload.code).toBe('RELAY_ERR_RECIPIENT_FORBIDDEN');
  });
});

describe('OTP step-up for approve', () => {
  it('refuses approve without a recent step-up once the account has OTP, and forwards it after auth', async () => {
    p = await pairOnRelay();
    const { TOTP } = await import('otpauth');
    const enroll = await api<{ secret: string }>(p.t.url, 'POST', '/api/auth/otp/enroll', {}, { token: p.phone.token });
    expect(enroll.status).toBe(200);
    const totp = new TOTP({ secret: enroll.body.secret });
    const verified = await api<{ token: string }>(
      p.t.url,
      'POST',
      '/api/auth/otp/verify',
      { code: totp.generate() },
      { token: p.phone.token },
    );
    expect(verified.status).toBe(200);

    const s = await p.connect(p.sidecar, { autoAck: true });
    const ph = await p.connect(p.phone); // connected with the token from before the step-up
    expect(ph.welcome?.stepUpRequired).toBe(true);
    const refused = ph.routed('approve', p.sidecar.deviceId, 'apply');
    expect((await ph.errorFor(refused.id)).payload.code).toBe('RELAY_ERR_STEP_UP_REQUIRED');

    ph.send({ type: 'auth', id: 'auth1', timestamp: Date.now(), payload: { token: verified.body.token } });
    expect((await ph.ackFor('auth1')).payload.status).toBe('applied');
    const ok = ph.routed('approve', p.sidecar.deviceId, 'apply');
    expect((await ph.ackFor(ok.id)).payload.status).toBe('forwarded');
    expect((await s.next('approve')).id).toBe(ok.id);
  });

  it('refuses an auth frame carrying another device token', async () => {
    p = await pairOnRelay();
    const ph = await p.connect(p.phone);
    ph.send({ type: 'auth', id: 'auth2', timestamp: Date.now(), payload: { token: p.sidecar.token } });
    expect((await ph.errorFor('auth2')).payload.code).toBe('RELAY_ERR_TOKEN_CLAIMS_INVALID');
  });
});

describe('token lifetime on a live connection', () => {
  it('closes a connection with 4005 when its token expires, unless an auth frame refreshed it', async () => {
    p = await pairOnRelay({ tokenTtlSeconds: 5, heartbeatSeconds: 1 });
    const stale = await p.connect(p.sidecar);
    const fresh = await p.connect(p.phone);
    await new Promise((r) => setTimeout(r, 3000));
    const renewed = await refreshToken(p.t.url, p.phone);
    fresh.send({ type: 'auth', id: 'auth-renew', timestamp: Date.now(), payload: { token: renewed.token } });
    expect((await fresh.ackFor('auth-renew')).payload.status).toBe('applied');
    expect((await stale.closed).code).toBe(4005);
    await fresh.expectNone('error', undefined, 1500);
    expect(fresh.isOpen).toBe(true);
  }, 15_000);
});

describe('logs and audit', () => {
  it('never writes a token to the service log or the audit log, and audits approve by metadata', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (l: string) => lines.push(l) });
    const dir = mkdtempSync(join(tmpdir(), 'oppie-audit-'));
    const auditFile = join(dir, 'audit.jsonl');
    const audit = createAudit(auditFile);
    const t = await startTestRelay({}, { logger, audit });
    try {
      const sidecar = await registerDevice(t.url, 'ws');
      const phone = await pairDevice(t.url, sidecar.token, 'phone');
      const s = await connectDevice(t.url, sidecar, { auth: 'query' });
      const ph = await connectDevice(t.url, phone);
      await fetch(`${t.url}/api/sessions?jwt=${sidecar.token}`, {
        headers: { authorization: `Bearer ${sidecar.token}` },
      });
      const approve = ph.routed('approve', sidecar.deviceId, 'secret-plan-approval');
      await ph.ackFor(approve.id);
      await s.close();
      await ph.close();
    } finally {
      await t.close();
    }
    await audit.flush();
    const all = lines.join('') + (existsSync(auditFile) ? readFileSync(auditFile, 'utf8') : '');
    expect(lines.length).toBeGreaterThan(0);
    expect(all).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
    const auditText = readFileSync(auditFile, 'utf8');
    expect(auditText).toContain('"event":"device.registered"');
    expect(auditText).toContain('"event":"pairing.claimed"');
    const approveLine = auditText.split('\n').find((l) => l.includes('"event":"approve.forwarded"'));
    expect(approveLine).toBeDefined();
    expect(approveLine).not.toContain(Buffer.from('secret-plan-approval').toString('base64url'));
    expect(all).not.toContain(Buffer.from('secret-plan-approval').toString('base64url'));
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('TLS', () => {
  it('serves HTTPS and WSS directly when given a certificate and key', async () => {
    if (!requireBinary('openssl', 'apt-get install openssl')) return;
    const dir = mkdtempSync(join(tmpdir(), 'oppie-tls-'));
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const ca = readFileSync(cert);
    const t = await startTestRelay({ tlsCertFile: cert, tlsKeyFile: key });
    try {
      expect(t.url.startsWith('https://')).toBe(true);
      expect((await httpsJson(t.url, 'GET', '/api/health', ca)).status).toBe(200);
      const device = generateDeviceKey();
      const { body: ch } = await httpsJson(t.url, 'GET', '/api/auth/challenge', ca);
      const proof = signProof('register', device, (ch as { challenge: string }).challenge);
      const reg = await httpsJson(t.url, 'POST', '/api/auth/register', ca, { proof, name: 'tls' });
      expect(reg.status).toBe(201);
      const token = (reg.body as { token: string }).token;
      const ws = new WebSocket(`${t.url.replace('https', 'wss')}/session`, ['oppie.v1', `bearer.${token}`], { ca });
      const first = await new Promise<string>((resolve, reject) => {
        ws.once('message', (d) => resolve(d.toString()));
        ws.once('error', reject);
      });
      expect(JSON.parse(first).type).toBe('welcome');
      ws.close();
    } finally {
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function httpsJson(
  base: string,
  method: string,
  path: string,
  ca: Buffer,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      `${base}${path}`,
      { method, ca, headers: { 'content-type': 'application/json' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
