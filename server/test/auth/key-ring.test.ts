import { afterEach, describe, expect, it } from 'vitest';
import { MAX_TOKEN_TTL_SECONDS, rotateSigningKey } from '../../src/auth/index.js';
import { openDatabase, SqliteSigningKeyStore } from '../../src/store/sqlite/index.js';
import { type Harness, harness } from './helpers.js';

const kidOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[0] as string, 'base64url').toString()).kid as string;

let h: Harness;
afterEach(() => h?.close());

describe('signing keys (embedded)', () => {
  it('generates a key on first start and keeps it across restarts', async () => {
    const clock = { t: Date.now() };
    h = await harness({ clock });
    const first = await h.register();
    const kid = kidOf(first.token);
    expect(h.auth.jwks().keys.map((k) => k.kid)).toEqual([kid]);
    const again = await harness({ dataDir: h.dataDir, clock });
    try {
      expect(again.auth.jwks().keys.map((k) => k.kid)).toEqual([kid]);
      expect((await again.auth.verifyToken(first.token)).deviceId).toBe(first.deviceId);
    } finally {
      await again.close();
    }
  });

  it('serves only public members in the JWKS', async () => {
    h = await harness();
    const res = await h.call<{ keys: Array<Record<string, unknown>> }>('GET', '/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect(res.body.keys).toHaveLength(1);
    const [key] = res.body.keys;
    expect(Object.keys(key ?? {}).sort()).toEqual(['alg', 'e', 'kid', 'kty', 'n', 'use']);
    expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
  });

  it('rotates: new tokens use the new kid, old tokens verify until the window ends', async () => {
    h = await harness({ auditFile: true });
    const device = await h.register();
    const oldKid = kidOf(device.token);
    const result = await h.auth.rotateSigningKey();
    expect(result.previousKid).toBe(oldKid);
    expect(result.kid).not.toBe(oldKid);
    const window = (MAX_TOKEN_TTL_SECONDS + h.config.clockSkewSeconds) * 1000;
    expect(result.previousVerifyUntil).toBe(h.clock.t + window);

    expect((await h.auth.verifyToken(device.token)).deviceId).toBe(device.deviceId);
    const renewed = await h.register();
    expect(kidOf(renewed.token)).toBe(result.kid);
    const jwks = await h.call<{ keys: Array<{ kid: string }> }>('GET', '/.well-known/jwks.json');
    expect(jwks.body.keys.map((k) => k.kid).sort()).toEqual([oldKid, result.kid].sort());

    h.clock.t += window;
    await h.auth.refresh();
    expect(h.auth.jwks().keys.map((k) => k.kid)).toEqual([result.kid]);
    await expect(h.auth.verifyToken(device.token)).rejects.toMatchObject({ code: 'RELAY_ERR_TOKEN_KID_UNKNOWN' });
    const rows = h.db.prepare('SELECT kid FROM signing_keys').all() as Array<{ kid: string }>;
    expect(rows.map((r) => r.kid)).toEqual([result.kid]);
    expect(await h.auditText()).toContain('"event":"keys.rotated"');
  });

  it('picks up a rotation made by another process (the CLI)', async () => {
    h = await harness();
    const before = await h.register();
    const cliDb = openDatabase(h.dataDir);
    const result = await rotateSigningKey(new SqliteSigningKeyStore(cliDb), {
      clockSkewSeconds: h.config.clockSkewSeconds,
      now: () => h.clock.t,
    });
    cliDb.close();
    expect((await h.auth.verifyToken(before.token)).deviceId).toBe(before.deviceId);
    await h.auth.refresh();
    const after = await h.register();
    expect(kidOf(after.token)).toBe(result.kid);
    expect(kidOf(before.token)).toBe(result.previousKid);
  });

  it('verifies a token from another instance that rotated, on first sight of its kid', async () => {
    h = await harness();
    const other = await harness({ dataDir: h.dataDir, clock: h.clock });
    try {
      const { kid } = await other.auth.rotateSigningKey();
      const device = await other.register();
      expect(kidOf(device.token)).toBe(kid);
      expect((await h.auth.verifyToken(device.token)).deviceId).toBe(device.deviceId);
    } finally {
      await other.close();
    }
  });
});
