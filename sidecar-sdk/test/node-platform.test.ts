import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type WebSocketLike, webCompression } from '@oppie/client-sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { FileStore } from '../src/file-store.js';
import { nodeFrameCryptoBest } from '../src/node-frame-crypto.js';
import { NodeWebSocket, nodePlatform } from '../src/node-platform.js';

let server: WebSocketServer;
let url: string;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oppie-np-'));
  server = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (set) => [...set][0] ?? false });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/session`;
});
afterEach(async () => {
  for (const c of server.clients) c.terminate();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

/** Collects the adapter's callbacks as a browser app would see them. */
function open(ws: WebSocketLike) {
  const messages: unknown[] = [];
  const opened = new Promise<void>((resolve) => {
    ws.onopen = () => resolve();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.onclose = (ev) => resolve(ev);
  });
  ws.onmessage = (ev) => messages.push(ev.data);
  return { messages, opened, closed };
}

describe('NodeWebSocket', () => {
  it('speaks the browser surface against a real ws server: open, text as string, subprotocol, close', async () => {
    server.on('connection', (peer) => {
      peer.on('message', (data) => peer.send(`echo:${data.toString()}`));
    });
    const Socket = nodePlatform({ dataDir: dir }).WebSocket;
    const ws = new Socket(url, ['oppie.v1', 'oppie.token.x']);
    const s = open(ws);
    expect(ws.readyState).toBe(NodeWebSocket.CONNECTING);
    await s.opened;
    expect(ws.readyState).toBe(NodeWebSocket.OPEN);
    expect(ws.protocol).toBe('oppie.v1');
    ws.send('{"type":"ping"}');
    await expect.poll(() => s.messages).toEqual(['echo:{"type":"ping"}']);
    expect(typeof s.messages[0]).toBe('string');
    ws.close(4000, 'bye');
    expect(await s.closed).toEqual({ code: 4000, reason: 'bye' });
    expect(ws.readyState).toBe(NodeWebSocket.CLOSED);
  });

  it('terminates at once a connection whose far end no longer reads (a dead route): no close handshake to wait for', async () => {
    server.on('connection', (peer) => {
      // The server stops reading: a close frame would never be answered (ws would wait 30 s for it).
      (peer as unknown as { _socket: { pause(): void } })._socket.pause();
    });
    const ws = new NodeWebSocket(url);
    const s = open(ws);
    await s.opened;
    ws.terminate();
    expect((await s.closed).code).toBe(1006);
    expect(ws.readyState).toBe(NodeWebSocket.CLOSED);
  });

  it('reports the server close code and reason, and binary frames as ArrayBuffer', async () => {
    server.on('connection', (peer) => {
      peer.send(Buffer.from([1, 2, 3]));
      peer.close(4401, 'token expired');
    });
    const ws = new NodeWebSocket(url);
    const s = open(ws);
    expect(await s.closed).toEqual({ code: 4401, reason: 'token expired' });
    expect(s.messages).toHaveLength(1);
    expect(new Uint8Array(s.messages[0] as ArrayBuffer)).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('refuses a frame over maxPayload: the server gets 1009, the app an error and a close', async () => {
    const serverSaw = new Promise<number>((resolve) => {
      server.on('connection', (peer) => {
        peer.on('close', (code) => resolve(code));
        peer.send('x'.repeat(2048));
      });
    });
    const Socket = nodePlatform({ dataDir: dir, maxPayload: 1024 }).WebSocket;
    const ws = new Socket(url);
    const errors: Array<{ message?: string }> = [];
    ws.onerror = (ev) => errors.push(ev as { message?: string });
    const s = open(ws);
    await s.closed;
    expect(await serverSaw).toBe(1009);
    expect(errors[0]?.message).toMatch(/max payload/i);
    expect(s.messages).toEqual([]);
  });

  it('fires onerror then onclose when nothing listens, and close() while connecting does not throw', async () => {
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const ws = new NodeWebSocket(`ws://127.0.0.1:${port}/session`);
    const errors: unknown[] = [];
    ws.onerror = (ev) => errors.push(ev);
    const s = open(ws);
    expect((await s.closed).code).toBe(1006);
    expect(errors).toHaveLength(1);
    const again = new NodeWebSocket(url);
    const closed = open(again).closed;
    again.close();
    expect((await closed).code).toBe(1006);
    server = new WebSocketServer({ noServer: true }); // afterEach closes something
  });
});

describe('nodePlatform', () => {
  it('wires a FileStore in dataDir, global fetch, timers and a clock', async () => {
    const p = nodePlatform({ dataDir: dir });
    expect(p.storage).toBeInstanceOf(FileStore);
    expect((p.storage as FileStore).dir).toBe(dir);
    expect(typeof p.fetch).toBe('function');
    expect(Math.abs(p.now() - Date.now())).toBeLessThan(1000);
    const fired = await new Promise<boolean>((resolve) => {
      const h = p.timers.setTimeout(() => resolve(false), 5);
      p.timers.clearTimeout(h);
      p.timers.setTimeout(() => resolve(true), 10);
    });
    expect(fired).toBe(true);
    // A 0 ms timer (a round of receipts) runs at the next turn, not a millisecond later: before an immediate queued
    // after it, and it can be cancelled.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const order: string[] = [];
    p.timers.clearTimeout(p.timers.setTimeout(() => order.push('cancelled'), 0));
    p.timers.setTimeout(() => order.push('timer 0'), 0);
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(order).toEqual(['timer 0']);
  });

  it('validates its options', () => {
    expect(() => nodePlatform({ dataDir: '' })).toThrow(/dataDir/);
    expect(() => nodePlatform({ dataDir: dir, maxPayload: 0 })).toThrow(/maxPayload/);
  });
});

describe('nodePlatform frame crypto and compression', () => {
  it('seals with native libsodium (its prebuilt addon loads here) and compresses with zlib', async () => {
    const best = nodeFrameCryptoBest();
    expect(best.error).toBeUndefined();
    expect(best.aead).toBe('sodium-native');
    const platform = nodePlatform({ dataDir: dir, rtc: false });
    expect(platform.frameCrypto).toBe(best.frameCrypto);
    // What zlib deflates here, the Web streams inflate (the phone's side), and back.
    const bytes = new TextEncoder().encode('+ a diff line\n'.repeat(2000));
    const deflated = await platform.compression!.deflateRaw(bytes);
    expect(deflated.length).toBeLessThan(bytes.length / 10);
    expect(Buffer.from(await webCompression.inflateRaw(deflated, bytes.length)).equals(Buffer.from(bytes))).toBe(true);
  });
});
