import { request } from 'node:https';
import { afterEach, describe, expect, it } from 'vitest';
import { PushEndpointRefusedError, pushAgent } from '../../src/push/agent.js';

/** The error a POST through `agent` ends with (every case here is refused before any connection is made). */
function refusal(url: string, agent: ReturnType<typeof pushAgent>): Promise<Error> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent });
    req.on('error', resolve);
    req.on('response', () => reject(new Error(`${url} was answered`)));
    req.end();
  });
}

let agent: ReturnType<typeof pushAgent> | undefined;
afterEach(() => {
  agent?.destroy();
  agent = undefined;
});

describe('pushAgent without private endpoints', () => {
  it.each([
    ['a name that resolves to loopback', 'https://localhost/x', 'private_address'],
    ['the same name with its final dot', 'https://localhost./x', 'private_address'],
    ['a loopback literal', 'https://127.0.0.1/x', 'private_address'],
    ['an IPv6 loopback literal', 'https://[::1]/x', 'private_address'],
    ['an IPv4-mapped literal', 'https://[::ffff:169.254.169.254]/x', 'private_address'],
    ['a port other than 443', 'https://push.example.com:8443/x', 'port'],
  ])('refuses %s at connect time', async (_, url, reason) => {
    agent = pushAgent({ allowPrivate: false });
    const err = await refusal(url, agent);
    expect(err).toBeInstanceOf(PushEndpointRefusedError);
    expect(err).toMatchObject({ code: 'PUSH_ERR_ENDPOINT_REFUSED', reason });
    expect(err.message).not.toContain('/x');
  });

  it.each([
    ['only private addresses', ['10.0.0.7', 'fd00::7']],
    ['an IPv4-mapped loopback address', ['::ffff:127.0.0.1']],
  ])('refuses a name that resolves (now) to %s, before connecting', async (_, addresses) => {
    const asked: string[] = [];
    agent = pushAgent({
      allowPrivate: false,
      resolve: (hostname, _opts, cb) => {
        asked.push(hostname);
        cb(
          null,
          addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
        );
      },
    });
    const err = await refusal('https://push.example.com/x', agent);
    expect(err).toMatchObject({ code: 'PUSH_ERR_ENDPOINT_REFUSED', reason: 'private_address' });
    expect(asked).toEqual(['push.example.com']);
  });

  it('names the variable when PUSH_CA_FILE cannot be read', () => {
    expect(() => pushAgent({ allowPrivate: false, caFile: '/nonexistent/ca.pem' })).toThrow(
      expect.objectContaining({ name: 'ConfigError', variable: 'PUSH_CA_FILE' }),
    );
  });
});
