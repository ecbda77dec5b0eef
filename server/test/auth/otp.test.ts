import { Secret, TOTP } from 'otpauth';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, harness, type Registered } from './helpers.js';

let h: Harness;
let device: Registered;
afterEach(() => h?.close());

const codeAt = (secret: string, t: number) =>
  new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: t });

async function enroll(token = device.token) {
  return h.call<{ secret: string; uri: string; code?: string }>('POST', '/api/auth/otp/enroll', { token });
}

async function verify(code: string, token = device.token) {
  return h.call<{ token: string; code?: string }>('POST', '/api/auth/otp/verify', { token, body: { code } });
}

async function setup(opts: Parameters<typeof harness>[0] = {}) {
  // Mid-step, so the codes of the neighbouring steps are stable for the test.
  h = await harness({ clock: { t: 1_700_000_025_000 }, ...opts });
  device = await h.register();
}

describe('OTP step-up', () => {
  it('enrolls pending, confirms on first verify, issues a step-up token', async () => {
    await setup({ auditFile: true });
    const res = await enroll();
    expect(res.status).toBe(200);
    expect(res.body.uri).toMatch(/^otpauth:\/\/totp\/.*secret=/);
    expect(await h.auth.accountRequiresStepUp(device.accountId)).toBe(false);

    const code = codeAt(res.body.secret, h.clock.t);
    const verified = await verify(code);
    expect(verified.status).toBe(200);
    const claims = await h.auth.verifyToken(verified.body.token);
    expect(claims.stepUpAt).toBe(Math.floor(h.clock.t / 1000) * 1000);
    expect(claims.deviceId).toBe(device.deviceId);
    expect(await h.auth.accountRequiresStepUp(device.accountId)).toBe(true);
    expect((await h.auth.verifyToken(device.token)).stepUpAt).toBeUndefined();

    const audit = await h.auditText();
    expect(audit).toContain('"event":"otp.enrolled"');
    expect(audit).toContain('"event":"otp.verified"');
    expect(audit).not.toContain(res.body.secret);
    expect(audit).not.toContain(`"${code}"`);
  });

  it('refuses a second enrollment once confirmed, replaces a pending one', async () => {
    await setup();
    const first = await enroll();
    const second = await enroll();
    expect(second.body.secret).not.toBe(first.body.secret);
    expect((await verify(codeAt(first.body.secret, h.clock.t))).body.code).toBe('RELAY_ERR_OTP_INVALID');
    expect((await verify(codeAt(second.body.secret, h.clock.t))).status).toBe(200);
    const again = await enroll();
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('RELAY_ERR_OTP_ALREADY_ENROLLED');
  });

  it('refuses a reused code, a code of an earlier step and a wrong code', async () => {
    await setup();
    const { secret } = (await enroll()).body;
    const now = codeAt(secret, h.clock.t);
    expect((await verify(now)).status).toBe(200);
    const reused = await verify(now);
    expect(reused.status).toBe(401);
    expect(reused.body.code).toBe('RELAY_ERR_OTP_INVALID');
    expect((await verify(codeAt(secret, h.clock.t - 30_000))).body.code).toBe('RELAY_ERR_OTP_INVALID');
    const accepted = [-30_000, 0, 30_000].map((d) => codeAt(secret, h.clock.t + d));
    let wrong = now;
    while (accepted.includes(wrong)) wrong = String((Number(wrong) + 1) % 1_000_000).padStart(6, '0');
    expect((await verify(wrong)).body.code).toBe('RELAY_ERR_OTP_INVALID');
    h.clock.t += 30_000;
    expect((await verify(codeAt(secret, h.clock.t))).status).toBe(200);
  });

  it('shares the replay guard across the devices of an account', async () => {
    await setup();
    const phone = await h.pair(device.token);
    const { secret } = (await enroll()).body;
    const code = codeAt(secret, h.clock.t);
    expect((await verify(code)).status).toBe(200);
    expect((await verify(code, phone.token)).body.code).toBe('RELAY_ERR_OTP_INVALID');
  });

  it('refuses verify without enrollment', async () => {
    await setup();
    const res = await verify('123456');
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('RELAY_ERR_OTP_NOT_ENROLLED');
  });

  it('limits verify attempts per device', async () => {
    await setup({ limits: { otpAttemptsPerDevice: 3 } });
    const { secret } = (await enroll()).body;
    for (let i = 0; i < 3; i++) expect((await verify('000000')).status).toBe(401);
    const limited = await verify(codeAt(secret, h.clock.t));
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('RELAY_ERR_RATE_LIMITED');
  });

  it('validates the code format', async () => {
    await setup();
    expect((await verify('12345')).body.code).toBe('RELAY_ERR_BAD_REQUEST');
  });
});
