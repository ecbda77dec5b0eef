import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { iceServersFor, turnCredential, turnOptions } from '../../src/turn/credentials.js';

describe('TURN REST credentials', () => {
  it('match an independent HMAC-SHA1 (openssl), as coturn use-auth-secret computes it', () => {
    const { username, credential } = turnCredential('north-secret', 'devABCDEF123456', 1_900_000_000);
    expect(username).toBe('1900000000:devABCDEF123456');
    const openssl = execFileSync(
      'sh',
      ['-c', `printf %s '${username}' | openssl dgst -sha1 -hmac north-secret -binary | base64`],
      {
        encoding: 'utf8',
      },
    ).trim();
    expect(credential).toBe(openssl);
  });

  it('mint per device with the first secret and the configured TTL; STUN comes without credentials', () => {
    const opts = turnOptions({
      stunUrls: 'stun:127.0.0.1:3478',
      turnUrls: 'turn:127.0.0.1:3478?transport=udp, turn:127.0.0.1:3478?transport=tcp',
      turnSecrets: 'new-secret,old-secret',
      turnTtlSeconds: 600,
    });
    const now = 1_800_000_000_123;
    const { iceServers, expiresAt } = iceServersFor(opts, 'devA', now);
    expect(expiresAt).toBe((1_800_000_000 + 600) * 1000);
    expect(iceServers[0]).toEqual({ urls: ['stun:127.0.0.1:3478'] });
    expect(iceServers[1]?.urls).toEqual(['turn:127.0.0.1:3478?transport=udp', 'turn:127.0.0.1:3478?transport=tcp']);
    expect(iceServers[1]?.username).toBe('1800000600:devA');
    expect(iceServers[1]?.credential).toBe(turnCredential('new-secret', 'devA', 1_800_000_600).credential);
    expect(iceServersFor(opts, 'devB', now).iceServers[1]?.credential).not.toBe(iceServers[1]?.credential);
  });

  it('gives no servers when none are configured', () => {
    expect(iceServersFor(turnOptions({ turnTtlSeconds: 600 }), 'd', 0).iceServers).toEqual([]);
  });
});
