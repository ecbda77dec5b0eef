import { spawn } from 'node:child_process';
import { access, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OppieError } from '@oppie/client-sdk';
import type { ApplicationType } from '@oppie/protocol';
import mittModule from 'mitt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IpcError } from '../src/errors.js';
import { type BridgeClient, type BridgeMessage, IpcBridge, type IpcBridgeOptions } from '../src/ipc-bridge.js';

// mitt ships CommonJS typings; under NodeNext its default import is the module object.
const mitt = mittModule as unknown as typeof import('mitt').default;

type Sent = {
  type: ApplicationType;
  payload: unknown;
  to: string | undefined;
  resolve: () => void;
  reject: (e: unknown) => void;
};

/** A BridgeClient whose sends stay pending until the test settles them, as a peer receipt would. */
function fakeClient() {
  const events = mitt<{ message: BridgeMessage }>();
  const sent: Sent[] = [];
  const client: BridgeClient = {
    events,
    send: (type, payload, opts) =>
      new Promise<void>((resolve, reject) => sent.push({ type, payload, to: opts?.to, resolve, reject })),
  };
  return { client, events, sent };
}

/** A local process on the socket, reading JSON lines. */
async function ipcClient(path: string) {
  const socket = connect(path);
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  socket.on('data', (d) => {
    buf += d.toString('utf8');
    let nl = buf.indexOf('\n');
    while (nl !== -1) {
      lines.push(JSON.parse(buf.slice(0, nl)) as Record<string, unknown>);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
    }
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  return { socket, lines, closed, send: (line: string) => socket.write(`${line}\n`) };
}

/** Leaves a socket file behind the way a crashed sidecar does: a process listening on it is killed with SIGKILL. */
async function crashedListener(socketPath: string): Promise<void> {
  const code = `require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => console.log('up'))`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

let dir: string;
let path: string;
const bridges: IpcBridge[] = [];
const sockets: Socket[] = [];
const logs: string[] = [];

async function start(client: BridgeClient, opts: Partial<IpcBridgeOptions> = {}) {
  const bridge = new IpcBridge({ path, client, log: (m) => logs.push(m), ...opts });
  bridges.push(bridge);
  await bridge.listen();
  return bridge;
}
async function local() {
  const c = await ipcClient(path);
  sockets.push(c.socket);
  return c;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oppie-ipc-'));
  path = join(dir, 'ipc.sock');
  logs.length = 0;
});
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const b of bridges.splice(0)) await b.close();
  await rm(dir, { recursive: true, force: true });
});

describe('IpcBridge', () => {
  it('sends a request end to end and replies ok once the peer acknowledged it', async () => {
    const f = fakeClient();
    await start(f.client);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const c = await local();
    c.send('{"id":"1","type":"progress","payload":{"step":1},"to":"pwa-1"}');
    await expect.poll(() => f.sent.length).toBe(1);
    expect(f.sent[0]).toMatchObject({ type: 'progress', payload: { step: 1 }, to: 'pwa-1' });
    expect(c.lines).toEqual([]); // no reply before the receipt
    f.sent[0]!.resolve();
    await expect.poll(() => c.lines).toEqual([{ ok: true, id: '1' }]);
  });

  it('replies with the client error code when a send fails', async () => {
    const f = fakeClient();
    await start(f.client);
    const c = await local();
    c.send('{"id":"a","type":"diff","payload":"x"}');
    c.send('{"id":"b","type":"diff","payload":"y"}');
    await expect.poll(() => f.sent.length).toBe(2);
    f.sent[0]!.reject(new OppieError('OPPIE_ERR_NOT_PAIRED'));
    f.sent[1]!.reject(new Error('boom'));
    await expect.poll(() => c.lines.length).toBe(2);
    expect(c.lines).toEqual([
      { ok: false, id: 'a', error: { code: 'OPPIE_ERR_NOT_PAIRED', message: 'no paired peer to send to' } },
      { ok: false, id: 'b', error: { code: 'IPC_ERR_SEND_FAILED', message: 'boom' } },
    ]);
  });

  it('answers bad lines with a code and keeps the connection working', async () => {
    const f = fakeClient();
    await start(f.client, { maxLineBytes: 1024 });
    const c = await local();
    c.send('not json');
    c.send('{"id":"u","type":"launch","payload":1}');
    c.send('{"id":"m","type":"chat"}');
    c.send(`{"id":"big","type":"chat","payload":"${'x'.repeat(2000)}"}`);
    c.send('');
    c.send('{"id":"fine","type":"chat","payload":"hi"}');
    await expect.poll(() => f.sent.length).toBe(1);
    f.sent[0]!.resolve();
    await expect.poll(() => c.lines.length).toBe(5);
    expect(c.lines.map((l) => [l.id, (l.error as { code?: string } | undefined)?.code])).toEqual([
      [null, 'IPC_ERR_BAD_LINE'],
      ['u', 'IPC_ERR_UNKNOWN_TYPE'],
      ['m', 'IPC_ERR_BAD_LINE'],
      [null, 'IPC_ERR_LINE_TOO_LONG'],
      ['fine', undefined],
    ]);
  });

  it('refuses lines over 1 MiB by default', async () => {
    await start(fakeClient().client);
    const c = await local();
    c.send(`{"id":"big","type":"diff","payload":"${'x'.repeat(1024 * 1024)}"}`);
    await expect
      .poll(() => c.lines)
      .toEqual([{ ok: false, id: null, error: { code: 'IPC_ERR_LINE_TOO_LONG', message: expect.any(String) } }]);
  });

  it('broadcasts peer messages to every IPC client, with the redelivered flag when set', async () => {
    const f = fakeClient();
    await start(f.client);
    const [a, b] = [await local(), await local()];
    await expect.poll(() => bridges[0]?.stats.clients).toBe(2);
    f.events.emit('message', { type: 'runPlan', from: 'pwa-1', id: 'm1', payload: { plan: 'p' } });
    f.events.emit('message', { type: 'chat', from: 'pwa-1', id: 'm0', payload: 'hi', redelivered: true });
    const expected = [
      { event: 'message', type: 'runPlan', from: 'pwa-1', id: 'm1', payload: { plan: 'p' } },
      { event: 'message', type: 'chat', from: 'pwa-1', id: 'm0', payload: 'hi', redelivered: true },
    ];
    await expect.poll(() => a.lines).toEqual(expected);
    await expect.poll(() => b.lines).toEqual(expected);
  });

  it('queues peer messages while no IPC client is connected, bounded, counting and logging drops', async () => {
    const f = fakeClient();
    const bridge = await start(f.client, { maxQueued: 2 });
    for (const id of ['m1', 'm2', 'm3']) f.events.emit('message', { type: 'chat', from: 'pwa-1', id, payload: id });
    expect(bridge.stats).toEqual({ clients: 0, queued: 2, dropped: 1 });
    expect(logs.some((l) => /dropped/.test(l))).toBe(true);
    const c = await local();
    await expect.poll(() => c.lines.map((l) => l.id)).toEqual(['m2', 'm3']);
    expect(bridge.stats.queued).toBe(0);
  });

  it('bounds the queue by bytes too', async () => {
    const f = fakeClient();
    const bridge = await start(f.client, { maxQueuedBytes: 300 });
    for (const id of ['m1', 'm2', 'm3'])
      f.events.emit('message', { type: 'chat', from: 'p', id, payload: 'x'.repeat(100) });
    expect(bridge.stats).toEqual({ clients: 0, queued: 1, dropped: 2 });
    const c = await local();
    await expect.poll(() => c.lines.map((l) => l.id)).toEqual(['m3']);
  });

  it('refuses clients over maxClients with an error line', async () => {
    await start(fakeClient().client, { maxClients: 1 });
    await local();
    const extra = await local();
    await extra.closed;
    expect(extra.lines).toEqual([
      { ok: false, id: null, error: { code: 'IPC_ERR_TOO_MANY_CLIENTS', message: expect.any(String) } },
    ]);
  });

  it('limits sends waiting for a receipt per client', async () => {
    const f = fakeClient();
    await start(f.client, { maxPendingPerClient: 1 });
    const c = await local();
    c.send('{"id":"1","type":"chat","payload":1}');
    c.send('{"id":"2","type":"chat","payload":2}');
    await expect
      .poll(() => c.lines)
      .toEqual([{ ok: false, id: '2', error: { code: 'IPC_ERR_TOO_MANY_PENDING', message: expect.any(String) } }]);
    f.sent[0]!.resolve();
    await expect.poll(() => c.lines.length).toBe(2);
  });

  it('disconnects a client that does not read, with an error line, and keeps serving the others', async () => {
    const f = fakeClient();
    const bridge = await start(f.client, { maxWriteBufferBytes: 64 * 1024 });
    const slow = await local();
    slow.socket.pause();
    const fast = await local();
    const payload = 'x'.repeat(16 * 1024);
    for (let i = 0; i < 200; i++) {
      f.events.emit('message', { type: 'chat', from: 'p', id: `m${i}`, payload });
      await new Promise((resolve) => setTimeout(resolve, 1)); // a steady stream, not one synchronous burst
    }
    await expect.poll(() => bridge.stats.clients).toBe(1);
    await expect.poll(() => fast.lines.length).toBe(200);
    expect(logs.some((l) => /does not read/.test(l))).toBe(true);
    slow.socket.resume();
    await slow.closed;
    expect(slow.lines.at(-1)).toMatchObject({ ok: false, error: { code: 'IPC_ERR_SLOW_CONSUMER' } });
  });

  it('removes a stale socket file, but refuses a live socket or a regular file', async () => {
    const stale = createServer();
    await new Promise<void>((resolve) => stale.listen(path, resolve));
    const live = await new IpcBridge({ path, client: fakeClient().client }).listen().catch((e: unknown) => e);
    expect((live as IpcError).code).toBe('IPC_ERR_ADDRESS_IN_USE');
    await new Promise<void>((resolve) => stale.close(() => resolve()));
    await crashedListener(path);
    expect((await stat(path)).isSocket()).toBe(true);
    const f = fakeClient();
    await start(f.client);
    const c = await local();
    c.send('{"id":"1","type":"chat","payload":1}');
    await expect.poll(() => f.sent.length).toBe(1);

    const file = join(dir, 'plain-file');
    await writeFile(file, 'keep me');
    const err = await new IpcBridge({ path: file, client: f.client }).listen().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IpcError);
    expect((err as IpcError).code).toBe('IPC_ERR_NOT_A_SOCKET');
  });

  it('stops forwarding after close and refuses to listen again', async () => {
    const f = fakeClient();
    const bridge = await start(f.client);
    const c = await local();
    await bridge.close();
    await c.closed;
    await expect(access(path)).rejects.toMatchObject({ code: 'ENOENT' });
    f.events.emit('message', { type: 'chat', from: 'p', id: 'late', payload: 1 });
    expect(bridge.stats.queued).toBe(0);
    const err = await bridge.listen().catch((e: unknown) => e);
    expect((err as IpcError).code).toBe('IPC_ERR_CLOSED');
  });

  it('validates its options', () => {
    const { client } = fakeClient();
    expect(() => new IpcBridge({ path, client, maxClients: 0 })).toThrow(/maxClients/);
    expect(() => new IpcBridge({ path: '', client })).toThrow(/path/);
  });
});
