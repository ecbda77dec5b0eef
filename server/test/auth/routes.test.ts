import { afterEach, describe, expect, it } from 'vitest';
import { counter, type Harness, harness } from './helpers.js';

let h: Harness;
afterEach(() => h?.close());

describe('auth routes', () => {
  it('limit auth calls per address', async () => {
    h = await harness({ config: { authRequestsPerIpPerMinute: 3 } });
    for (let i = 0; i < 3; i++) await h.challenge('10.1.1.1');
    const res = await h.call('GET', '/api/auth/challenge', { ip: '10.1.1.1' });
    expect(res.status).toBe(429);
    expect(res.body.code).toBe('RELAY_ERR_RATE_LIMITED');
    const token = await h.call('POST', '/api/auth/token', { body: {}, ip: '10.1.1.1' });
    expect(token.body.code).toBe('RELAY_ERR_RATE_LIMITED');
    expect(await counter(h.metrics.rateLimited, { limit: 'auth' })).toBe(2);
    expect((await h.call('GET', '/api/auth/challenge', { ip: '10.1.1.2' })).status).toBe(200);
    // The JWKS is public and cacheable, not an auth call.
    expect((await h.call('GET', '/.well-known/jwks.json', { ip: '10.1.1.1' })).status).toBe(200);
  });

  it('describe every route in the OpenAPI document', async () => {
    h = await harness();
    const doc = (
      await h.call<{ paths: Record<string, Record<string, Record<string, unknown>>> }>('GET', '/api/openapi.json')
    ).body;
    const routes: Array<[string, string, boolean]> = [
      ['/api/auth/challenge', 'get', false],
      ['/api/auth/register', 'post', false],
      ['/api/auth/token', 'post', false],
      ['/api/pairing', 'post', true],
      ['/api/pairing/claim', 'post', false],
      ['/api/auth/devices', 'get', true],
      ['/api/auth/devices/{id}', 'delete', true],
      ['/api/auth/otp/enroll', 'post', true],
      ['/api/auth/otp/verify', 'post', true],
      ['/.well-known/jwks.json', 'get', false],
    ];
    for (const [path, method, bearer] of routes) {
      const op = doc.paths[path]?.[method];
      expect(op, `${method} ${path}`).toBeDefined();
      expect(op?.security !== undefined, `${method} ${path} security`).toBe(bearer);
      expect(Object.keys((op?.responses as object) ?? {}).length, path).toBeGreaterThan(0);
      if (path !== '/.well-known/jwks.json') expect(op?.responses, path).toHaveProperty('429');
    }
  });
});
