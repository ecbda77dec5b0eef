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

  it('hands net.connect only the public addresses of a name that resolves to private and public ones', async () => {
    // The lookup is called directly: connecting to a public address is not something a test here may do.
    const answers = [
      { address: '10.0.0.7', family: 4 },
      { address: '198.51.100.7', family: 4 },
      { address: '::1', family: 6 },
      { address: '2001:db8::7', family: 6 },
      { address: '169.254.169.254', family: 4 },
    ];
    agent = pushAgent({ allowPrivate: false, resolve: (_h, _o, cb) => cb(null, answers) });
    type Lookup = (host: string, opts: object, cb: (err: Error | null, ...rest: unknown[]) => void) => void;
    const lookup = (agent as unknown as { options: { lookup: Lookup } }).options.lookup;
    const ask = (opts: object) =>
      new Promise<unknown[]>((resolve) => lookup('push.example.com', opts, (...args) => resolve(args)));
    // net.connect with autoSelectFamily asks for all of them: it must not get one private address among them.
    expect(await ask({ all: true })).toEqual([
      null,
      [
        { address: '198.51.100.7', family: 4 },
        { address: '2001:db8::7', family: 6 },
      ],
    ]);
    // Asked for one, it gets the first public one, whatever came first in the answer.
    expect(await ask({})).toEqual([null, '198.51.100.7', 4]);
    // A resolver error passes through unchanged (the request fails with it, counted as failed).
    const dnsError = Object.assign(new Error('getaddrinfo ENOTFOUND push.example.com'), { code: 'ENOTFOUND' });
    agent.destroy();
    agent = pushAgent({ allowPrivate: false, resolve: (_h, _o, cb) => cb(dnsError, []) });
    const failing = (agent as unknown as { options: { lookup: Lookup } }).options.lookup;
    const [err] = await new Promise<unknown[]>((resolve) => failing('push.example.com', {}, (...a) => resolve(a)));
    expect(err).toBe(dnsError);
  });

  it('names the variable when PUSH_CA_FILE cannot be read', () => {
    expect(() => pushAgent({ allowPrivate: false, caFile: '/nonexistent/ca.pem' })).toThrow(
      expect.objectContaining({ name: 'ConfigError', variable: 'PUSH_CA_FILE' }),
    );
  });
});
