import { createHmac, createPublicKey, type JsonWebKeyInput } from 'node:crypto';
import { connectDevice, pairDevice, TestKitError } from '@oppie/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Pair, pairOnRelay } from './fixture.js';
import { silentSession } from './raw-session.js';

let p: Pair | undefined;
afterEach(async () => {
  await p?.t.close();
  p = undefined;
});

async function refusal(promise: Promise<unknown>): Promise<{ status?: number; code?: string }> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(TestKitError);
    const e = err as TestKitError & { status?: number; body?: { code?: string } };
    return { status: e.status, code: e.body?.code };
  }
  throw new Error('expected the upgrade to be refused');
}

describe('connections', () => {
  it('refuses an upgrade without a token or with a bad one: HTTP 401 and no socket', async () => {
    p = await pairOnRelay();
    expect(await refusal(connectDevice(p.t.url, 'x', { auth: 'none' }))).toEqual({
      status: 401,
      code: 'RELAY_ERR_TOKEN_MISSING',
    });
    expect(await refusal(connectDevice(p.t.url, 'not-a-jwt'))).toEqual({
      status: 401,
      code: 'RELAY_ERR_TOKEN_MALFORMED',
    });
    expect(await refusal(connectDevice(p.t.url, p.phone.token, { path: '/elsewhere' }))).toMatchObject({ status: 404 });
  });

  it('refuses forged tokens at the upgrade with their codes', async () => {
    p = await pairOnRelay();
    const [head, body, sig] = p.phone.token.split('.') as [string, string, string];
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none', typ: 'JWT' })}.${body}.`;
    expect(await refusal(connectDevice(p.t.url, none))).toEqual({
      status: 401,
      code: 'RELAY_ERR_TOKEN_ALG_NOT_ALLOWED',
    });
    const jwks = (await (await fetch(`${p.t.url}/.well-known/jwks.json`)).json()) as { keys: JsonWebKeyInput['key'][] };
    const publicPem = createPublicKey({ key: jwks.keys[0] as JsonWebKeyInput['key'], format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    const hsHead = b64({ alg: 'HS256', typ: 'JWT', kid: JSON.parse(Buffer.from(head, 'base64url').toString()).kid });
    const hsSig = createHmac('sha256', publicPem).update(`${hsHead}.${body}`).digest('base64url');
    expect(await refusal(connectDevice(p.t.url, `${hsHead}.${body}.${hsSig}`))).toEqual({
      status: 401,
      code: 'RELAY_ERR_TOKEN_ALG_NOT_ALLOWED',
    });
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString());
    const tampered = `${head}.${b64({ ...claims, acc: 'someone-else' })}.${sig}`;
    expect(await refusal(connectDevice(p.t.url, tampered))).toEqual({
      status: 401,
      code: 'RELAY_ERR_TOKEN_SIGNATURE_INVALID',
    });
    const metrics = await (await fetch(`${p.t.url}/api/metrics`)).text();
    expect(metrics).toMatch(/oppie_relay_upgrades_refused_total\{code="RELAY_ERR_TOKEN_ALG_NOT_ALLOWED"\} 2/);
  });

  it('accepts the token as ?jwt= too, and never logs it', async () => {
    p = await pairOnRelay();
    const ph = await p.connect(p.phone, { auth: 'query' });
    expect(ph.welcome?.deviceId).toBe(p.phone.deviceId);
  });

  it('newest connection wins; the old one is closed with 4501 and its in-flight envelopes move over', async () => {
    p = await pairOnRelay();
    const ph = await p.connect(p.phone);
    const s1 = await p.connect(p.sidecar);
    const env = ph.chat(p.sidecar.deviceId, 'in flight');
    await s1.next('chat');
    const s2 = await p.connect(p.sidecar);
    expect((await s1.closed).code).toBe(4501);
    expect((await s2.next('chat')).id).toBe(env.id);
    await ph.expectNone('presence', (f) => (f.payload as { online: boolean }).online === false, 200);
  });

  it('limits connections per account with a code', async () => {
    p = await pairOnRelay({ maxConnectionsPerAccount: 2 });
    const third = await pairDevice(p.t.url, p.sidecar.token, 'tablet');
    await p.connect(p.phone);
    await p.connect(p.sidecar);
    expect(await refusal(p.connect(third))).toEqual({ status: 429, code: 'RELAY_ERR_CONNECTION_LIMIT' });
    // Reconnecting an already connected device is not a new connection for the limit: it replaces the old one.
    await p.connect(p.phone);
  });

  it('rate-limits upgrades per address', async () => {
    p = await pairOnRelay({ upgradesPerIpPerSecond: 3 });
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => p!.connect(p!.phone)));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const r of refused) {
      const e = (r as PromiseRejectedResult).reason as { body?: { code?: string }; status?: number };
      expect(e.status).toBe(429);
      expect(e.body?.code).toBe('RELAY_ERR_RATE_LIMITED');
    }
  });

  it('closes a slow consumer with 4001 and keeps its undelivered envelopes queued', async () => {
    p = await pairOnRelay({ inflightMaxCount: 2, slowConsumerSeconds: 1, heartbeatSeconds: 1 });
    const s = await p.connect(p.sidecar); // never acks
    const ph = await p.connect(p.phone);
    const ids = [0, 1, 2, 3].map((i) => ph.chat(p!.sidecar.deviceId, `m${i}`).id);
    expect((await s.closed).code).toBe(4001);
    const s2 = await p.connect(p.sidecar, { autoAck: true });
    const got = [];
    for (let i = 0; i < 4; i++) got.push((await s2.next('chat')).id);
    expect(got).toEqual(ids);
  });

  it('terminates a connection that stops answering pings', async () => {
    p = await pairOnRelay({ heartbeatSeconds: 1 });
    const ph = await p.connect(p.phone);
    const silent = await silentSession(p.t.url, p.sidecar.token);
    await ph.next('presence', (f) => f.payload.deviceId === p?.sidecar.deviceId && f.payload.online, 3000);
    const gone = await ph.next(
      'presence',
      (f) => f.payload.deviceId === p?.sidecar.deviceId && !f.payload.online,
      5000,
    );
    expect(gone.payload.online).toBe(false);
    await silent.ended;
    const metrics = await (await fetch(`${p.t.url}/api/metrics`)).text();
    expect(metrics).toMatch(/oppie_relay_close_codes_total\{code="4002"\} 1/);
  });

  it('graceful shutdown: sockets close with 4000, health says draining and upgrades are refused meanwhile', async () => {
    p = await pairOnRelay({ shutdownGraceSeconds: 2 });
    const s = await p.connect(p.sidecar);
    const silent = await silentSession(p.t.url, p.phone.token); // never completes the close handshake
    const closing = p.t.relay.close();
    expect((await s.closed).code).toBe(4000);
    const health = await fetch(`${p.t.url}/api/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'draining', ready: false, live: true });
    expect(await refusal(p.connect(p.sidecar))).toEqual({ status: 503, code: 'RELAY_ERR_SHUTTING_DOWN' });
    await closing;
    await silent.ended;
    await expect(fetch(`${p.t.url}/api/health`)).rejects.toThrow();
  });
});
