import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { OppieError } from '@oppie/client-sdk';
import mittModule from 'mitt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliIo, runCli } from '../src/cli.js';
import type { CliClient } from '../src/cli-commands.js';
import type { BridgeMessage } from '../src/ipc-bridge.js';
import type { SidecarOptions } from '../src/sidecar.js';

// mitt ships CommonJS typings; under NodeNext its default import is the module object.
const mitt = mittModule as unknown as typeof import('mitt').default;

/** A scripted client plus an io that records output; `stop()` plays the part of SIGINT for `run`. */
function harness(env: Record<string, string> = {}) {
  const calls: string[] = [];
  const created: SidecarOptions[] = [];
  const events = mitt<{ message: BridgeMessage }>();
  let paired: (v: { deviceId: string; name: string; sas: string }) => void = () => {};
  let stop: (signal: string) => void = () => {};
  const client: CliClient = {
    deviceId: 'side-1',
    events,
    connect: async () => void calls.push('connect'),
    close: async () => void calls.push('close'),
    send: async (type, payload) => void calls.push(`send ${type} ${JSON.stringify(payload)}`),
    createPairing: async () => ({
      link: 'https://relay.example/pair#abc',
      code: 'abc',
      expiresAt: Date.UTC(2030, 0, 1),
      completed: new Promise((resolve) => {
        paired = resolve;
      }),
    }),
    devices: async () => [
      { id: 'side-1', role: 'sidecar', name: 'box', online: true, lastSeenAt: null },
      { id: 'pwa-1', role: 'pwa', name: 'phone', online: false, lastSeenAt: Date.UTC(2030, 0, 1) },
    ],
    revoke: async (id) => {
      if (id === 'nope')
        throw new OppieError('OPPIE_ERR_RELAY', 'no such device', { relayCode: 'RELAY_ERR_NOT_FOUND' });
      calls.push(`revoke ${id}`);
    },
  };
  const out: string[] = [];
  const err: string[] = [];
  /** The heap growth `run` asked for; never this test process's own V8. */
  const heap: number[] = [];
  const io: CliIo = {
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    env,
    createClient: async (opts) => {
      created.push(opts);
      return client;
    },
    untilStopped: () => new Promise((resolve) => (stop = resolve)),
    qr: async (link) => `[QR ${link}]\n`,
    tuneHeap: (percent) => {
      heap.push(percent);
      return percent === 0 ? { outcome: 'off' } : { outcome: 'set', percent };
    },
  };
  return {
    io,
    heap,
    calls,
    created,
    events,
    out,
    err,
    pair: (v: Parameters<typeof paired>[0]) => paired(v),
    stop: (s: string) => stop(s),
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oppie-cli-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('runCli arguments', () => {
  it.each([
    [[]],
    [['launch']],
    [['revoke']],
    [['devices', 'extra']],
    [['run']],
    [['devices', '--ipc', '/tmp/x']],
    [['devices', '--bogus']],
    [['devices', '--relay', 'ws://x']],
  ])('exits 2 with a usage line for %j', async (argv) => {
    const h = harness();
    expect(await runCli(argv, h.io)).toBe(2);
    expect(h.err.join('')).toMatch(/^oppie-sidecar: .+\nusage: oppie-sidecar/);
    expect(h.created).toEqual([]);
  });

  it('prints usage for --help', async () => {
    const h = harness();
    expect(await runCli(['--help'], h.io)).toBe(0);
    expect(h.out.join('')).toMatch(/^usage: oppie-sidecar/);
  });

  it('takes defaults from the environment, then from built-ins, and flags over both', async () => {
    const h = harness({ OPPIE_RELAY_URL: 'https://relay.example', OPPIE_SIDECAR_DIR: '/srv/oppie' });
    await runCli(['devices'], h.io);
    expect(h.created[0]).toMatchObject({ relayUrl: 'https://relay.example', dataDir: '/srv/oppie' });
    const bare = harness();
    await runCli(['devices'], bare.io);
    expect(bare.created[0]).toMatchObject({
      relayUrl: 'http://127.0.0.1:8080',
      dataDir: join(homedir(), '.oppie-sidecar'),
    });
    await runCli(
      ['devices', '--relay', 'http://r:1', '--data-dir', '/d', '--name', 'box', '--enrollment-token', 't'],
      h.io,
    );
    expect(h.created[1]).toEqual({ relayUrl: 'http://r:1', dataDir: '/d', name: 'box', enrollmentToken: 't' });
  });
});

describe('runCli commands', () => {
  it('devices lists the account and closes the client', async () => {
    const h = harness();
    expect(await runCli(['devices'], h.io)).toBe(0);
    const text = h.out.join('');
    expect(text).toMatch(/^side-1\tsidecar\tonline\tlast seen never\tbox \(this sidecar\)$/m);
    expect(text).toMatch(/^pwa-1\tpwa\toffline\tlast seen 2030-01-01T00:00:00.000Z\tphone$/m);
    expect(h.calls).toEqual(['close']);
  });

  it('revoke revokes, and a refusal exits 1 with its code', async () => {
    const h = harness();
    expect(await runCli(['revoke', 'pwa-1'], h.io)).toBe(0);
    expect(h.calls).toEqual(['revoke pwa-1', 'close']);
    expect(await runCli(['revoke', 'nope'], h.io)).toBe(1);
    expect(h.err.join('')).toBe('oppie-sidecar: OPPIE_ERR_RELAY: no such device\n');
  });

  it('revoke takes a device id that starts with "-" (base64url) as the id, not as an option', async () => {
    const h = harness();
    expect(await runCli(['revoke', '-x9Tn4K2_abcdefghijklm', '--relay', 'http://127.0.0.1:1'], h.io)).not.toBe(2);
    expect(h.calls[0]).toBe('revoke -x9Tn4K2_abcdefghijklm');
  });

  it('pair prints the QR code and link, waits, then prints the check code', async () => {
    const h = harness();
    const done = runCli(['pair'], h.io);
    await expect.poll(() => h.out.join('')).toMatch(/Waiting for a phone/);
    expect(h.out.join('')).toContain(
      '[QR https://relay.example/pair#abc]\nPairing link (valid until 2030-01-01T00:00:00.000Z):\nhttps://relay.example/pair#abc\n',
    );
    h.pair({ deviceId: 'pwa-1', name: 'phone', sas: '123 456' });
    expect(await done).toBe(0);
    expect(h.out.join('')).toMatch(
      /Paired with phone \(pwa-1\)\.\nCheck that the phone shows the same code: 123 456\n$/,
    );
    expect(h.calls).toEqual(['connect', 'close']);
  });

  it('pair prints the link only when no QR renderer is available', async () => {
    const h = harness();
    const done = runCli(['pair'], { ...h.io, qr: async () => undefined });
    await expect.poll(() => h.out.join('')).toMatch(/Waiting/);
    expect(h.out[0]).toMatch(/^Pairing link/);
    h.pair({ deviceId: 'pwa-1', name: 'phone', sas: '1' });
    expect(await done).toBe(0);
  });

  it('run --ipc bridges the socket until stopped, then closes bridge and client', async () => {
    const h = harness();
    const path = join(dir, 'ipc.sock');
    const done = runCli(['run', '--ipc', path], h.io);
    await expect.poll(() => h.err.join('')).toMatch(/connected to the relay/);
    const socket = connect(path);
    let received = '';
    socket.on('data', (d) => {
      received += d.toString();
    });
    socket.write('{"id":"1","type":"progress","payload":{"pct":50}}\n');
    await expect.poll(() => received).toBe('{"ok":true,"id":"1"}\n');
    h.events.emit('message', { type: 'chat', from: 'pwa-1', id: 'm1', payload: 'hi' });
    await expect
      .poll(() => received)
      .toContain('{"event":"message","type":"chat","from":"pwa-1","id":"m1","payload":"hi"}\n');
    const closed = new Promise((resolve) => socket.on('close', resolve));
    h.stop('SIGTERM');
    expect(await done).toBe(0);
    await closed;
    expect(h.calls).toEqual(['connect', 'send progress {"pct":50}', 'close']);
    expect(h.err.join('')).toMatch(/SIGTERM: closing/);
    expect(h.heap).toEqual([300]);
    expect(h.err.join('')).toMatch(/^V8 old-generation growth fixed at 300%\n/);
  });

  it('run takes its heap growth from OPPIE_SIDECAR_HEAP_GROWTH; 0 leaves V8 its own; other commands leave it', async () => {
    for (const [value, asked] of [
      ['150', 150],
      ['0', 0],
    ] as const) {
      const h = harness({ OPPIE_SIDECAR_HEAP_GROWTH: value });
      const done = runCli(['run', '--ipc', join(dir, `${value}.sock`)], h.io);
      await expect.poll(() => h.err.join('')).toMatch(/connected to the relay/);
      h.stop('SIGINT');
      expect(await done).toBe(0);
      expect(h.heap).toEqual([asked]);
      expect(h.err.join('').includes('growth fixed')).toBe(asked !== 0);
    }
    const other = harness();
    await runCli(['devices'], other.io);
    expect(other.heap).toEqual([]);
  });

  it.each(['-1', '1.5', 'lots', '', '1001'])('exits 2 on OPPIE_SIDECAR_HEAP_GROWTH=%j', async (value) => {
    const h = harness({ OPPIE_SIDECAR_HEAP_GROWTH: value });
    expect(await runCli(['run', '--ipc', join(dir, 's.sock')], h.io)).toBe(2);
    expect(h.err.join('')).toMatch(/^oppie-sidecar: OPPIE_SIDECAR_HEAP_GROWTH must be a percent from 0 to 1000/);
    expect(h.heap).toEqual([]);
    expect(h.created).toEqual([]);
  });

  it('run exits 1 when the relay refuses the connection for good', async () => {
    const h = harness();
    const failing: CliIo = {
      ...h.io,
      createClient: async (opts) => {
        const c = await h.io.createClient!(opts);
        return { ...c, connect: async () => Promise.reject(new OppieError('OPPIE_ERR_AUTH', 'device revoked')) };
      },
    };
    expect(await runCli(['run', '--ipc', join(dir, 's.sock')], failing)).toBe(1);
    expect(h.err.join('')).toMatch(/OPPIE_ERR_AUTH: device revoked/);
  });
});
