import { describe, expect, it } from 'vitest';
import { ConfigError, configTable, loadConfig, OPTIONS } from '../src/config.js';

describe('loadConfig', () => {
  it('applies documented defaults and freezes the result', () => {
    const c = loadConfig({});
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(8080);
    expect(c.dataDir).toBe('./data');
    expect(c.registration).toBe('open');
    expect(c.maxFrameBytes).toBe(1024 * 1024);
    expect(c.issuer).toBe('http://127.0.0.1:8080');
    expect(Object.isFrozen(c)).toBe(true);
    expect(() => {
      (c as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('reads environment variables, and flags win over them', () => {
    const c = loadConfig({ PORT: '9000', LOG_LEVEL: 'debug' }, ['--port', '9100', '--host=::1']);
    expect(c.port).toBe(9100);
    expect(c.host).toBe('::1');
    expect(c.logLevel).toBe('debug');
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL'],
    [{ TOKEN_TTL_SECONDS: '3600' }, 'TOKEN_TTL_SECONDS'],
    [{ TRUST_PROXY: 'maybe' }, 'TRUST_PROXY'],
    [{ TLS_CERT_FILE: '/x.pem' }, 'TLS_KEY_FILE'],
    [{ NODE_ENV: 'production' }, 'JWT_SIGNING_KEY_FILE'],
    [{ INFLIGHT_MAX_COUNT: '1000', QUEUE_MAX_COUNT: '1000' }, 'INFLIGHT_MAX_COUNT'],
    [{ MAX_FRAME_BYTES: '2097152', QUEUE_MAX_BYTES: '1048576' }, 'MAX_FRAME_BYTES'],
    [{ MAX_FRAME_BYTES: '131071' }, 'MAX_FRAME_BYTES'], // below a full SDK chunk's frame
    [{ TURN_URLS: 'turn:127.0.0.1:3478' }, 'TURN_SECRETS'],
    [{ TURN_URLS: 'turn:127.0.0.1:3478', TURN_SECRETS: ' , ' }, 'TURN_SECRETS'], // a list of nothing: TURN off
    [{ TURN_URLS: 'turn.example.com:3478', TURN_SECRETS: 's' }, 'TURN_URLS'], // no scheme: browsers throw on it
    [{ STUN_URLS: 'stun:127.0.0.1:3478,turn:127.0.0.1:3478' }, 'STUN_URLS'],
    [{ TURN_URLS: 'turn:127.0.0.1:3478,127.0.0.1:3479', TURN_SECRETS: 's' }, 'TURN_URLS'],
    [{ TURN_TTL_SECONDS: '60' }, 'TURN_TTL_SECONDS'], // SDKs would refetch before every attempt
    [{ REDIS_URL: 'http://127.0.0.1:6379', PUBLIC_URL: 'https://r.example' }, 'REDIS_URL'],
    [{ REDIS_URL: 'redis://127.0.0.1:6379' }, 'PUBLIC_URL'],
  ])('names the bad variable: %o', (env, variable) => {
    try {
      loadConfig(env);
      expect.unreachable('should have thrown');
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).variable).toBe(variable);
      expect((err as Error).message).toContain(variable);
    }
  });

  it('takes STUN and TLS URLs beside TURN ones in TURN_URLS, with spaces and empty items', () => {
    const c = loadConfig({
      TURN_URLS: ' turn:127.0.0.1:3478 , turns:r.example:5349,, stun:127.0.0.1:3478',
      TURN_SECRETS: 's',
    });
    expect(c.turnUrls).toContain('turns:r.example:5349');
  });

  it('refuses unknown flags', () => {
    expect(() => loadConfig({}, ['--nope', '1'])).toThrow(ConfigError);
    expect(() => loadConfig({}, ['--port'])).toThrow(/needs a value/);
  });

  it('defaults to enrollment registration in production', () => {
    const c = loadConfig({ NODE_ENV: 'production', JWT_SIGNING_KEY_FILE: '/k.pem' });
    expect(c.registration).toBe('enrollment');
    expect(c.production).toBe(true);
  });

  it('documents every option in the generated table', () => {
    const table = configTable();
    for (const o of Object.values(OPTIONS)) expect(table).toContain(`\`${o.env}\``);
  });
});

describe('README configuration table', () => {
  it('is the generated table (regenerate with `node server/dist/main.js config`)', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(configTable());
  });
});
