/**
 * The push routes: the VAPID public key (stored once, or from PUSH_VAPID_KEY_FILE), and strict checks of the
 * subscription a PWA registers, each refusal with its documented code.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, apiOk, startTestRelay } from '@oppie/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import webpush from 'web-push';
import { type Pair, pairOnRelay } from '../relay/fixture.js';
import { putSubscription, subscriptionKeys } from './fixture.js';

let p: Pair | undefined;
afterEach(async () => {
  await p?.t.close();
  p = undefined;
});

const keys = subscriptionKeys().keys;
const b64 = (bytes: Buffer) => bytes.toString('base64url');

describe('GET /api/push/vapid-public-key', () => {
  it('is a P-256 point kept in the store across restarts', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'oppie-vapid-'));
    try {
      const first = await startTestRelay({}, { dataDir });
      const a = await apiOk<{ publicKey: string }>(first.url, 'GET', '/api/push/vapid-public-key');
      await first.close();
      const raw = Buffer.from(a.publicKey, 'base64url');
      expect(raw).toHaveLength(65);
      expect(raw[0]).toBe(4);
      const second = await startTestRelay({}, { dataDir });
      const b = await apiOk<{ publicKey: string }>(second.url, 'GET', '/api/push/vapid-public-key');
      await second.close();
      expect(b.publicKey).toBe(a.publicKey);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('comes from PUSH_VAPID_KEY_FILE when set, and a bad file stops the start naming the variable', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'oppie-vapid-file-'));
    try {
      const pair = webpush.generateVAPIDKeys();
      const file = join(dir, 'vapid.json');
      await writeFile(file, JSON.stringify(pair));
      const t = await startTestRelay({ pushVapidKeyFile: file });
      const got = await apiOk<{ publicKey: string }>(t.url, 'GET', '/api/push/vapid-public-key');
      await t.close();
      expect(got.publicKey).toBe(pair.publicKey);

      const other = webpush.generateVAPIDKeys();
      await writeFile(file, JSON.stringify({ publicKey: pair.publicKey, privateKey: other.privateKey }));
      await expect(startTestRelay({ pushVapidKeyFile: file })).rejects.toMatchObject({
        name: 'ConfigError',
        variable: 'PUSH_VAPID_KEY_FILE',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers RELAY_ERR_PUSH_DISABLED when PUSH_ENABLED is off, after the body and token checks', async () => {
    p = await pairOnRelay({ pushEnabled: false });
    const key = await api(p.t.url, 'GET', '/api/push/vapid-public-key');
    expect(key.status).toBe(404);
    expect(key.body).toMatchObject({ code: 'RELAY_ERR_PUSH_DISABLED' });
    const body = { endpoint: 'https://push.example.com/x', keys };
    const put = await putSubscription(p.t.url, p.phone.token, body);
    expect(put.status).toBe(404);
    expect(put.body).toMatchObject({ code: 'RELAY_ERR_PUSH_DISABLED' });
    const del = await api(p.t.url, 'DELETE', '/api/push/subscription', undefined, { token: p.sidecar.token });
    expect(del.body).toMatchObject({ code: 'RELAY_ERR_PUSH_DISABLED' });
    // As documented: the request is checked first.
    expect((await putSubscription(p.t.url, undefined, body)).body).toMatchObject({ code: 'RELAY_ERR_TOKEN_MISSING' });
    expect((await putSubscription(p.t.url, p.phone.token, { endpoint: body.endpoint })).body).toMatchObject({
      code: 'RELAY_ERR_BAD_REQUEST',
    });
  });
});

describe('PUT /api/push/subscription', () => {
  const endpoint = 'https://push.example.com/send/abc';

  it('stores a valid subscription (replacing the previous one) and DELETE removes it', async () => {
    p = await pairOnRelay();
    expect((await putSubscription(p.t.url, p.phone.token, { endpoint, expirationTime: null, keys })).status).toBe(204);
    const next = { endpoint: `${endpoint}2`, keys: subscriptionKeys().keys };
    expect((await putSubscription(p.t.url, p.phone.token, next)).status).toBe(204);
    expect(await p.t.relay.push.subscription(p.phone.deviceId)).toMatchObject({
      endpoint: next.endpoint,
      ...next.keys,
    });
    const del = await api(p.t.url, 'DELETE', '/api/push/subscription', undefined, { token: p.phone.token });
    expect(del.status).toBe(204);
    expect(await p.t.relay.push.subscription(p.phone.deviceId)).toBeUndefined();
    // Idempotent: nothing left to remove is still a success.
    expect((await api(p.t.url, 'DELETE', '/api/push/subscription', undefined, { token: p.phone.token })).status).toBe(
      204,
    );
  });

  it('stores the endpoint normalised, as the sender will connect to it', async () => {
    p = await pairOnRelay();
    const raw = 'https://push.example.com/send/../send/a b';
    expect((await putSubscription(p.t.url, p.phone.token, { endpoint: raw, keys })).status).toBe(204);
    expect(await p.t.relay.push.subscription(p.phone.deviceId)).toMatchObject({
      endpoint: 'https://push.example.com/send/a%20b',
    });
  });

  const notOnCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]);
  const compressed = Buffer.concat([Buffer.from([2]), randomBytes(64)]);
  it.each([
    ['an http endpoint', { endpoint: 'http://push.example.com/x', keys }],
    ['an endpoint that is no URL', { endpoint: 'not a url', keys }],
    ['an endpoint with credentials', { endpoint: 'https://u:p@push.example.com/x', keys }],
    ['a loopback endpoint', { endpoint: 'https://127.0.0.1:4443/x', keys }],
    ['a private endpoint', { endpoint: 'https://[fd00::1]/x', keys }],
    ['an IPv4-mapped loopback endpoint', { endpoint: 'https://[::ffff:127.0.0.1]/x', keys }],
    ['a private IPv4 endpoint', { endpoint: 'https://192.168.1.20/x', keys }],
    ['localhost', { endpoint: 'https://localhost/x', keys }],
    ['localhost with its final dot', { endpoint: 'https://localhost./x', keys }],
    [
      'a percent-encoded host that other parsers read as 127.0.0.1',
      { endpoint: 'https://127.0.0.1%2eexample.com/x', keys },
    ],
    ['a hexadecimal loopback host', { endpoint: 'https://0x7f.1/x', keys }],
    ['a host not in canonical form', { endpoint: 'https://PUSH.example.com/x', keys }],
    ['a port other than 443', { endpoint: 'https://push.example.com:8443/x', keys }],
    ['an IPv6 multicast endpoint', { endpoint: 'https://[ff02::1]/x', keys }],
    ['a NAT64 endpoint holding a private IPv4', { endpoint: 'https://[64:ff9b::10.0.0.1]/x', keys }],
    ['an IPv4-compatible IPv6 endpoint', { endpoint: 'https://[::10.0.0.1]/x', keys }],
    ['a 6to4 endpoint holding a private IPv4', { endpoint: 'https://[2002:c0a8:101::1]/x', keys }],
    ['a short p256dh', { endpoint, keys: { ...keys, p256dh: b64(randomBytes(64)) } }],
    ['a p256dh that is no uncompressed point', { endpoint, keys: { ...keys, p256dh: b64(compressed) } }],
    ['a p256dh off the curve', { endpoint, keys: { ...keys, p256dh: b64(notOnCurve) } }],
    ['a p256dh that is no base64url', { endpoint, keys: { ...keys, p256dh: `${keys.p256dh.slice(1)}+` } }],
    ['a 15-byte auth secret', { endpoint, keys: { ...keys, auth: b64(randomBytes(15)) } }],
  ])('refuses %s with RELAY_ERR_PUSH_SUBSCRIPTION_INVALID', async (_, body) => {
    p ??= await pairOnRelay();
    const res = await putSubscription(p.t.url, p.phone.token, body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'RELAY_ERR_PUSH_SUBSCRIPTION_INVALID' });
  });

  it.each([
    ['no keys', { endpoint }],
    ['an endpoint over 2048 characters', { endpoint: `${endpoint}/${'a'.repeat(2048)}`, keys }],
    ['an oversized key', { endpoint, keys: { ...keys, p256dh: 'A'.repeat(500) } }],
  ])('refuses a body with %s with RELAY_ERR_BAD_REQUEST', async (_, body) => {
    p = await pairOnRelay();
    const res = await putSubscription(p.t.url, p.phone.token, body);
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ code: 'RELAY_ERR_BAD_REQUEST' });
  });

  it('needs a token, and a PWA: a sidecar is refused with RELAY_ERR_ROLE_FORBIDDEN', async () => {
    p = await pairOnRelay();
    const anon = await putSubscription(p.t.url, undefined, { endpoint, keys });
    expect(anon.status).toBe(401);
    expect(anon.body).toMatchObject({ code: 'RELAY_ERR_TOKEN_MISSING' });
    const sidecar = await putSubscription(p.t.url, p.sidecar.token, { endpoint, keys });
    expect(sidecar.status).toBe(403);
    expect(sidecar.body).toMatchObject({ code: 'RELAY_ERR_ROLE_FORBIDDEN' });
  });
});
