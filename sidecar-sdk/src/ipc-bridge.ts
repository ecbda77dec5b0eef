import type { Server, Socket } from 'node:net';
import { APPLICATION_TYPES, type ApplicationType } from '@oppie/protocol';
import type { BridgeClient, BridgeMessage } from './bridge-client.js';
import { IpcError } from './errors.js';
import { LineSplitter, parseRequest } from './ipc-lines.js';
import { listenUnix } from './unix-socket.js';

export type { BridgeClient, BridgeMessage } from './bridge-client.js';

export interface IpcBridgeOptions {
  /** Unix socket path; a stale socket file there is removed, a live one is refused. */
  readonly path: string;
  readonly client: BridgeClient;
  readonly maxClients?: number;
  /** Longest accepted request line in bytes (1 MiB). */
  readonly maxLineBytes?: number;
  /** Bytes waiting to be written to one IPC client before it counts as slow and is disconnected (8 MiB). */
  readonly maxWriteBufferBytes?: number;
  /** Sends per IPC client waiting for the peer's receipt (1,000). */
  readonly maxPendingPerClient?: number;
  /** Peer messages kept while no IPC client is connected (1,000); the oldest is dropped first. */
  readonly maxQueued?: number;
  /** Bytes of those queued messages (16 MiB). */
  readonly maxQueuedBytes?: number;
  /** Types local processes may send (all application types). */
  readonly types?: readonly ApplicationType[];
  /** Where drops and disconnects are reported (console.warn). */
  readonly log?: (message: string) => void;
}

const MiB = 1024 * 1024;
const DEFAULTS = {
  maxClients: 16,
  maxLineBytes: MiB,
  maxWriteBufferBytes: 8 * MiB,
  maxPendingPerClient: 1000,
  maxQueued: 1000,
  maxQueuedBytes: 16 * MiB,
};
const NUMERIC_OPTIONS = Object.keys(DEFAULTS) as Array<keyof typeof DEFAULTS>;
const SLOW_CLIENT_GRACE_MS = 1_000;

interface Conn {
  readonly socket: Socket;
  pending: number;
}

/**
 * Bridges local MeshAdapter processes to the paired devices over a Unix socket speaking JSON lines.
 * A request line `{"id","type","payload","to?"}` is sent end to end and answered `{"ok":true,"id"}` once the peer
 * acknowledged it, or `{"ok":false,"id","error":{"code","message"}}`. Peer messages go to every IPC client as
 * `{"event":"message","type","from","id","payload"}`, and wait in a bounded queue while none is connected.
 *
 * @example
 * const bridge = new IpcBridge({ path: '/run/user/1000/oppie.sock', client });
 * await bridge.listen();
 * process.on('SIGTERM', () => void bridge.close());
 */
export class IpcBridge {
  private readonly opts: Required<Omit<IpcBridgeOptions, 'types'>>;
  private readonly types: ReadonlySet<string>;
  private readonly conns = new Set<Conn>();
  private readonly queue: string[] = [];
  private queuedBytes = 0;
  /** Peer messages dropped from the queue because no IPC client connected in time. */
  private dropped = 0;
  private server: Server | undefined;
  private closed = false;

  constructor(options: IpcBridgeOptions) {
    const opts = { ...DEFAULTS, log: console.warn, ...options };
    for (const k of NUMERIC_OPTIONS) {
      if (!Number.isInteger(opts[k]) || opts[k] < 1) throw new TypeError(`IpcBridge: ${k} must be a positive integer`);
    }
    if (typeof opts.path !== 'string' || opts.path === '') throw new TypeError('IpcBridge: path must be a socket path');
    this.opts = opts;
    this.types = new Set(options.types ?? APPLICATION_TYPES);
  }

  /** Number of connected IPC clients and of peer messages waiting for one. */
  get stats(): { clients: number; queued: number; dropped: number } {
    return { clients: this.conns.size, queued: this.queue.length, dropped: this.dropped };
  }

  /** Starts listening (socket mode 0600) and forwarding peer messages. */
  async listen(): Promise<void> {
    if (this.closed) throw new IpcError('IPC_ERR_CLOSED');
    if (this.server !== undefined) return;
    const server = await listenUnix(this.opts.path, (socket) => this.accept(socket));
    server.on('error', (err) => this.opts.log(`ipc: server error: ${err.message}`));
    this.server = server;
    this.opts.client.events.on('message', this.onPeerMessage);
  }

  /** Stops listening, disconnects IPC clients and removes the socket file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.opts.client.events.off('message', this.onPeerMessage);
    for (const conn of this.conns) conn.socket.destroy();
    this.conns.clear();
    const server = this.server;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private readonly onPeerMessage = (m: BridgeMessage): void => {
    const line = JSON.stringify({
      event: 'message',
      type: m.type,
      from: m.from,
      id: m.id,
      payload: m.payload,
      ...(m.redelivered && { redelivered: true }),
    });
    if (this.conns.size > 0) {
      for (const conn of this.conns) this.write(conn, line);
      return;
    }
    this.queue.push(line);
    this.queuedBytes += Buffer.byteLength(line);
    while (this.queue.length > this.opts.maxQueued || this.queuedBytes > this.opts.maxQueuedBytes) {
      this.queuedBytes -= Buffer.byteLength(this.queue.shift()!);
      this.dropped++;
      this.opts.log(`ipc: no IPC client connected, dropped the oldest queued peer message (${this.dropped} so far)`);
    }
  };

  private accept(socket: Socket): void {
    const conn: Conn = { socket, pending: 0 };
    if (this.closed || this.conns.size >= this.opts.maxClients) {
      socket.end(`${errorLine(null, 'IPC_ERR_TOO_MANY_CLIENTS', `at most ${this.opts.maxClients} IPC clients`)}\n`);
      return;
    }
    this.conns.add(conn);
    const splitter = new LineSplitter(this.opts.maxLineBytes);
    socket.on('data', (chunk: Buffer) => {
      for (const item of splitter.push(chunk)) {
        if ('tooLong' in item) {
          const message = `line longer than ${this.opts.maxLineBytes} bytes, skipped`;
          this.write(conn, errorLine(null, 'IPC_ERR_LINE_TOO_LONG', message));
        } else if (item.line.trim() !== '') this.handleLine(conn, item.line);
      }
    });
    socket.on('error', (err) => this.opts.log(`ipc: client socket error: ${err.message}`));
    socket.on('close', () => this.conns.delete(conn));
    this.queuedBytes = 0;
    for (const line of this.queue.splice(0)) this.write(conn, line);
  }

  private handleLine(conn: Conn, line: string): void {
    const parsed = parseRequest(line, this.types);
    if (!parsed.ok) {
      this.write(conn, errorLine(parsed.id, parsed.code, parsed.message));
      return;
    }
    const { id, type, payload, to } = parsed.request;
    if (conn.pending >= this.opts.maxPendingPerClient) {
      this.write(conn, errorLine(id, 'IPC_ERR_TOO_MANY_PENDING', `at most ${this.opts.maxPendingPerClient}`));
      return;
    }
    conn.pending++;
    this.opts.client
      .send(type, payload, to === undefined ? undefined : { to })
      .then(
        () => this.write(conn, JSON.stringify({ ok: true, id })),
        (err: unknown) => {
          const e = err as { code?: unknown; message?: unknown } | undefined;
          const code = typeof e?.code === 'string' ? e.code : 'IPC_ERR_SEND_FAILED';
          this.write(conn, errorLine(id, code, typeof e?.message === 'string' ? e.message : String(err)));
        },
      )
      .finally(() => {
        conn.pending--;
      });
  }

  /** Writes one line, or disconnects a client whose unread output went over the bound. */
  private write(conn: Conn, line: string): void {
    const { socket } = conn;
    if (socket.destroyed || socket.writableEnded || !this.conns.has(conn)) return;
    if (socket.writableLength + Buffer.byteLength(line) > this.opts.maxWriteBufferBytes) {
      this.conns.delete(conn);
      this.opts.log('ipc: disconnected an IPC client that does not read its lines');
      socket.end(`${errorLine(null, 'IPC_ERR_SLOW_CONSUMER', `over ${this.opts.maxWriteBufferBytes} unread bytes`)}\n`);
      setTimeout(() => socket.destroy(), SLOW_CLIENT_GRACE_MS).unref();
      return;
    }
    socket.write(`${line}\n`);
  }
}

function errorLine(id: string | null, code: string, message: string): string {
  return JSON.stringify({ ok: false, id, error: { code, message } });
}
