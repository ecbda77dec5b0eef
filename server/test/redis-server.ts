/**
 * A real redis-server for tests: started on a free 127.0.0.1 port in a temp dir (AOF on, RDB off), stopped and
 * removed after. Gate the tests with `HAVE_REDIS` (CI fails without redis-server, elsewhere they are skipped loudly).
 *
 * @example
 * describe.runIf(HAVE_REDIS)('thing on redis', () => {
 *   let redis: TestRedis;
 *   beforeAll(async () => { redis = await startTestRedis(); });
 *   afterAll(() => redis?.stop());
 * });
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from '@oppie/test-kit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

export const HAVE_REDIS = requireBinary('redis-server', 'apt-get install -y redis-server');

/** A free TCP port on 127.0.0.1 (nothing listens on it when this resolves). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

/** Starts redis-server on `port` with its files in `dir`; resolves once it answers PING. */
export async function startRedisProcess(dir: string, port: number): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--dir', dir, '--save', ''];
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout?.on('data', (d) => {
    log += d.toString();
  });
  proc.stderr?.on('data', (d) => {
    log += d.toString();
  });
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}:\n${log}`);
    if (await ping(port)) return proc;
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGKILL');
  throw new Error(`redis-server did not answer PING on ${port} within 10 s:\n${log}`);
}

/** Stops a redis-server started by `startRedisProcess` (SIGTERM, so it flushes the AOF) and waits for its exit. */
export async function stopRedisProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  await exited;
}

export interface TestRedis {
  readonly port: number;
  readonly dir: string;
  /** A connected client, disconnected by `stop()`. */
  readonly client: Redis;
  /** A fresh key prefix per call, to isolate tests sharing the server. */
  prefix(): string;
  /** A new connected client (another "instance"), disconnected by `stop()`. */
  connect(): Promise<Redis>;
  /** Stops and starts the server again on the same port and dir (AOF replayed). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts a redis-server in a fresh temp dir on a free port, with a connected client. */
export async function startTestRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'oppie-redis-'));
  const port = await freePort();
  let proc: ChildProcess;
  try {
    proc = await startRedisProcess(dir, port);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const clients: Redis[] = [];
  const connect = async () => {
    const c = new Redis({ host: '127.0.0.1', port, lazyConnect: true });
    clients.push(c);
    await c.connect();
    return c;
  };
  const client = await connect();
  let n = 0;
  return {
    port,
    dir,
    client,
    prefix: () => `test${++n}:`,
    connect,
    async restart() {
      await stopRedisProcess(proc);
      proc = await startRedisProcess(dir, port);
    },
    async stop() {
      for (const c of clients) c.disconnect();
      await stopRedisProcess(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Starts one redis-server for the enclosing describe block (beforeAll) with a second client as another "instance",
 * and stops it afterwards. Read `server` and `other` inside tests, not at declaration time.
 */
export function useTestRedis(): { readonly server: TestRedis; readonly other: Redis } {
  let server: TestRedis | undefined;
  let other: Redis | undefined;
  beforeAll(async () => {
    server = await startTestRedis();
    other = await server.connect();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server() {
      if (server === undefined) throw new Error('useTestRedis: the server starts in beforeAll');
      return server;
    },
    get other() {
      if (other === undefined) throw new Error('useTestRedis: the server starts in beforeAll');
      return other;
    },
  };
}
