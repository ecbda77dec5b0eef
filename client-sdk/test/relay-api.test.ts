/**
 * The relay's REST API as the SDK calls it, against a real HTTP server on loopback: a request the server never
 * answers (a dead connection after a network switch looks the same) is given up with OPPIE_ERR_TIMEOUT, so what waits
 * on it (fresh TURN credentials for a direct-path attempt) goes on without it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { OppieError } from '../src/errors.js';
import { RelayApi } from '../src/relay-api.js';

const held: ServerResponse[] = [];
let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  for (const res of held.splice(0)) res.destroy();
  await close?.();
  close = undefined;
});

/** A server on 127.0.0.1 that answers `/api/turn/credentials` per `answer`. */
async function relayStub(answer: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(answer);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = () => new Promise((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('RelayApi', () => {
  it('gives up a request the relay never answers with OPPIE_ERR_TIMEOUT', async () => {
    const url = await relayStub((_req, res) => held.push(res));
    const api = new RelayApi(url, globalThis.fetch, 300);
    const err = (await api.turnCredentials('token').catch((e: unknown) => e)) as OppieError;
    expect(err.code).toBe('OPPIE_ERR_TIMEOUT');
    expect(err.message).toMatch(/GET \/api\/turn\/credentials within 300 ms/);
    expect(held).toHaveLength(1);
  });

  it('gives up an answer whose body stops halfway with OPPIE_ERR_TIMEOUT', async () => {
    const url = await relayStub((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
      res.write('{"iceServers":');
      held.push(res);
    });
    const err = (await new RelayApi(url, globalThis.fetch, 300)
      .turnCredentials('token')
      .catch((e: unknown) => e)) as OppieError;
    expect(err.code).toBe('OPPIE_ERR_TIMEOUT');
  });

  it('still answers in time', async () => {
    const url = await relayStub((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ iceServers: [{ urls: ['stun:127.0.0.1:3478'] }], expiresAt: 1 }));
    });
    const ice = await new RelayApi(url, globalThis.fetch, 300).turnCredentials('token');
    expect(ice.iceServers).toEqual([{ urls: ['stun:127.0.0.1:3478'] }]);
  });
});
