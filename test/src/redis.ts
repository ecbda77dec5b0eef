/**
 * A real redis-server for tests: started on a free 127.0.0.1 port in a temp dir (AOF on, RDB off), stopped and
 * removed after. It can be restarted (AOF replayed), halted and resumed later on the same port (an outage), killed
 * with SIGKILL or frozen with SIGSTOP. Gate the tests with `hasRedis()` (CI fails without redis-server, elsewhere
 * they are skipped loudly).
 *
 * No client library: readiness is a raw `PING` over a socket, so the test kit needs no Redis dependency.
 *
 * @example
 * const HAVE_REDIS = hasRedis();
 * describe.runIf(HAVE_REDIS)('thing on redis', () => {
 *   let redis: RedisServer;
 *   beforeAll(async () => { redis = await startTestRedis(); });
 *   afterAll(() => redis?.stop());
 *   it('survives a 10 s outage', async () => {
 *     await redis.halt();
 *     await new Promise((r) => setTimeout(r, 10_000));
 *     await redis.resume();
 *   });
 * });
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from './require-binary.js';

let haveRedis: boolean | undefined;

/**
 * Whether redis-server is installed (checked once). Under CI=true a missing binary throws; elsewhere it prints a loud
 * SKIPPED line. A function, not a constant, so importing the test kit checks nothing.
 */
export function hasRedis(): boolean {
  haveRedis ??= requireBinary('redis-server', 'apt-get install -y redis-server');
  return haveRedis;
}

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

/** Whether a Redis on 127.0.0.1:`port` answers `PING` with `+PONG` within `timeoutMs`. Never throws. */
export function pingRedis(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

/** Starts redis-server on `port` with its files in `dir`; resolves once it answers PING (10 s at most). */
export async function startRedisProcess(dir: string, port: number): Promise<ChildProcess> {
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--appendonly', 'yes', '--dir', dir, '--save', ''];
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const append = (d: Buffer) => {
    log = (log + d.toString()).slice(-16_384);
  };
  proc.stdout?.on('data', append);
  proc.stderr?.on('data', append);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}:\n${log}`);
    if (await pingRedis(port)) return proc;
    await new Promise((r) => setTimeout(r, 50));
  }
  proc.kill('SIGKILL');
  throw new Error(`redis-server did not answer PING on ${port} within 10 s:\n${log}`);
}

/**
 * Stops a redis-server started by `startRedisProcess` with `signal` (SIGTERM by default, so it flushes the AOF) and
 * waits for its exit. A stopped (SIGSTOP) process is continued first so it can act on SIGTERM.
 */
export async function stopRedisProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill(signal);
  if (signal !== 'SIGKILL') proc.kill('SIGCONT');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A redis-server owned by one test file. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`, for REDIS_URL. */
  readonly url: string;
  readonly port: number;
  /** Its data dir (AOF), kept across restart/halt/resume, removed by `stop()`. */
  readonly dir: string;
  /** Whether the process is running (false after `halt()`/`kill()`, true again after `resume()`). */
  running(): boolean;
  /** Stops it gracefully and starts it again on the same port and dir (AOF replayed). */
  restart(): Promise<void>;
  /** An outage: stops it gracefully (SIGTERM, AOF flushed) but keeps the port and dir for `resume()`. */
  halt(): Promise<void>;
  /** A crash: SIGKILL, keeping the port and dir for `resume()` (what was not fsynced is lost). */
  kill(): Promise<void>;
  /** Starts it again after `halt()`/`kill()` on the same port and dir. No-op when running. */
  resume(): Promise<void>;
  /** A hang: SIGSTOP, connections stay open but nothing answers. `thaw()` continues it. */
  freeze(): void;
  /** SIGCONT after `freeze()`. */
  thaw(): void;
  /** Stops it (SIGTERM, waits) and removes its dir. */
  stop(): Promise<void>;
}

/** Starts a redis-server in a fresh temp dir on a free 127.0.0.1 port; resolves once it answers PING. */
export async function startTestRedis(): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'oppie-redis-'));
  const port = await freePort();
  let proc: ChildProcess | undefined;
  try {
    proc = await startRedisProcess(dir, port);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const alive = () => proc !== undefined && proc.exitCode === null && proc.signalCode === null;
  const halt = async (signal: NodeJS.Signals) => {
    if (proc !== undefined) await stopRedisProcess(proc, signal);
    proc = undefined;
  };
  const resume = async () => {
    if (!alive()) proc = await startRedisProcess(dir, port);
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    running: alive,
    async restart() {
      await halt('SIGTERM');
      await resume();
    },
    halt: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    resume,
    freeze: () => void proc?.kill('SIGSTOP'),
    thaw: () => void proc?.kill('SIGCONT'),
    async stop() {
      await halt('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
