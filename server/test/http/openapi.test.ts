import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAudit } from '../../src/audit.js';
import { loadConfig } from '../../src/config.js';
import { createRelay, type Relay } from '../../src/relay.js';

let relay: Relay;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'oppie-openapi-'));
  relay = await createRelay({
    config: loadConfig({}, [], { port: 0, dataDir: dir }),
    logger: pino({ level: 'silent' }),
    audit: createAudit('silent'),
  });
});
afterAll(async () => {
  await relay.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('REST description', () => {
  it('serves an OpenAPI 3.1 document generated from the route schemas, with every endpoint', async () => {
    const res = await relay.app.inject({ method: 'GET', url: '/api/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json() as {
      openapi: string;
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    expect(doc.openapi).toBe('3.1.0');
    const expected: Array<[string, string]> = [
      ['/api/auth/challenge', 'get'],
      ['/api/auth/register', 'post'],
      ['/api/auth/token', 'post'],
      ['/api/pairing', 'post'],
      ['/api/pairing/claim', 'post'],
      ['/api/auth/devices', 'get'],
      ['/api/auth/devices/{id}', 'delete'],
      ['/api/auth/otp/enroll', 'post'],
      ['/api/auth/otp/verify', 'post'],
      ['/api/sessions', 'get'],
      ['/api/health', 'get'],
      ['/api/metrics', 'get'],
      ['/.well-known/jwks.json', 'get'],
      ['/api/schema/envelope.json', 'get'],
    ];
    for (const [path, method] of expected) expect(doc.paths[path]?.[method], `${method} ${path}`).toBeDefined();
    expect(Object.keys(doc.paths['/api/auth/token']?.post?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '401']),
    );
  });

  it('answers unknown routes and bad bodies with registry codes', async () => {
    const missing = await relay.app.inject({ method: 'GET', url: '/api/nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'RELAY_ERR_NOT_FOUND' });
    const bad = await relay.app.inject({ method: 'POST', url: '/api/auth/token', payload: { proof: 'x' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'RELAY_ERR_BAD_REQUEST' });
    const big = await relay.app.inject({
      method: 'POST',
      url: '/api/auth/token',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ pad: 'x'.repeat(100_000) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toMatchObject({ code: 'RELAY_ERR_PAYLOAD_TOO_LARGE' });
  });

  it('serves the WebSocket JSON Schema', async () => {
    const res = await relay.app.inject({ method: 'GET', url: '/api/schema/envelope.json' });
    expect(res.json()).toMatchObject({ title: 'Oppie Relay WebSocket messages' });
  });
});

describe('CORS for a PWA on its own origin', () => {
  it('answers preflights for configured origins only', async () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'oppie-cors-'));
    const r = await createRelay({
      config: loadConfig({}, [], { port: 0, dataDir: dir2, corsOrigins: 'https://pwa.example' }),
      logger: pino({ level: 'silent' }),
      audit: createAudit('silent'),
    });
    try {
      const preflight = (origin: string) =>
        r.app.inject({
          method: 'OPTIONS',
          url: '/api/auth/token',
          headers: {
            origin,
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'content-type',
          },
        });
      expect((await preflight('https://pwa.example')).headers['access-control-allow-origin']).toBe(
        'https://pwa.example',
      );
      expect((await preflight('https://evil.example')).headers['access-control-allow-origin']).toBeUndefined();
    } finally {
      await r.close();
      rmSync(dir2, { recursive: true, force: true });
    }
    const plain = await relay.app.inject({
      method: 'GET',
      url: '/api/health',
      headers: { origin: 'https://pwa.example' },
    });
    expect(plain.headers['access-control-allow-origin']).toBeUndefined();
  });
});
