/**
 * A real HAProxy in front of several relays, as a scale-out deployment runs them: HTTP mode, round robin without
 * stickiness, WebSocket upgrades tunnelled, backends health-checked on `GET /api/health` every 500 ms so a dead relay
 * leaves the rotation within about a second, and a failed connection retried on another backend.
 *
 * @example
 * const HAVE_HAPROXY = hasHaproxy();
 * describe.runIf(HAVE_HAPROXY)('behind a load balancer', () => {
 *   let lb: Haproxy;
 *   beforeAll(async () => {
 *     lb = await startHaproxy({ backends: [a, b, c].map((r) => ({ host: '127.0.0.1', port: r.port })) });
 *   });
 *   afterAll(() => lb?.stop());
 *   it('answers', async () => expect((await api(lb.url, 'GET', '/api/health')).status).toBe(200));
 * });
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './redis.js';
import { requireBinary } from './require-binary.js';

let haveHaproxy: boolean | undefined;

/**
 * Whether haproxy is installed (checked once). Under CI=true a missing binary throws; elsewhere it prints a loud
 * SKIPPED line. A function, not a constant, so importing the test kit checks nothing.
 */
export function hasHaproxy(): boolean {
  haveHaproxy ??= requireBinary('haproxy', 'apt-get install -y haproxy');
  return haveHaproxy;
}

export interface HaproxyBackend {
  readonly host: string;
  readonly port: number;
}

export interface StartHaproxyOptions {
  /** The relays, in rotation order. */
  readonly backends: readonly HaproxyBackend[];
  /** Port to listen on (127.0.0.1). Default: a free one. */
  readonly port?: number;
  /** Health check interval. Default 500 ms; a backend is out after 2 failed checks and back after 1 good one. */
  readonly checkIntervalMs?: number;
  /** Idle limit of an HTTP exchange (`timeout client` / `timeout server`). Default 30 s. */
  readonly httpTimeoutMs?: number;
  /** Extra lines appended to the backend section (e.g. `http-request set-header X-Test 1`). */
  readonly backendLines?: readonly string[];
}

export interface Haproxy {
  /** `http://127.0.0.1:<port>`; WebSocket clients use `ws://` on the same port. */
  readonly url: string;
  readonly port: number;
  /** The generated haproxy.cfg, for failure messages. */
  readonly config: string;
  /** What haproxy printed so far (bounded). */
  output(): string;
  /** Kills haproxy (SIGTERM, a hard stop; SIGKILL after 5 s), waits for its exit and removes its temp dir. */
  stop(): Promise<void>;
}

/** The configuration `startHaproxy` runs. */
export function haproxyConfig(opts: StartHaproxyOptions & { readonly port: number }): string {
  const inter = opts.checkIntervalMs ?? 500;
  const http = opts.httpTimeoutMs ?? 30_000;
  return [
    'global',
    '  maxconn 4096',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    `  timeout client ${http}ms`,
    `  timeout server ${http}ms`,
    // Once a WebSocket upgrade went through, the connection is a tunnel: idle for up to an hour.
    '  timeout tunnel 1h',
    '  timeout client-fin 5s',
    '  timeout http-request 10s',
    `  timeout check ${Math.max(inter, 1_000)}ms`,
    // A connection refused by a dead backend is retried, each retry on another backend.
    '  retries 3',
    '  option redispatch 1',
    '',
    'frontend relay',
    `  bind 127.0.0.1:${opts.port}`,
    '  default_backend relays',
    '',
    'backend relays',
    '  balance roundrobin',
    '  option httpchk GET /api/health',
    '  http-check expect status 200',
    `  default-server check inter ${inter}ms fastinter ${inter}ms downinter ${inter}ms fall 2 rise 1`,
    ...opts.backends.map((b, i) => `  server relay${i} ${b.host}:${b.port}`),
    ...(opts.backendLines ?? []).map((l) => `  ${l}`),
    '',
  ].join('\n');
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(500, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => done(true));
  });
}

async function killAndWait(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Starts haproxy in the foreground (`-db`) with its config in a temp dir, listening on 127.0.0.1. Resolves once it
 * accepts TCP connections; rejects with its output when it exits first or is not listening within 10 s.
 */
export async function startHaproxy(opts: StartHaproxyOptions): Promise<Haproxy> {
  if (opts.backends.length === 0) throw new Error('startHaproxy: at least one backend');
  const port = opts.port ?? (await freePort());
  const config = haproxyConfig({ ...opts, port });
  const dir = mkdtempSync(join(tmpdir(), 'oppie-haproxy-'));
  const cfgPath = join(dir, 'haproxy.cfg');
  writeFileSync(cfgPath, config);
  const proc = spawn('haproxy', ['-db', '-f', cfgPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const append = (d: Buffer) => {
    log = (log + d.toString()).slice(-65_536);
  };
  proc.stdout?.on('data', append);
  proc.stderr?.on('data', append);
  const spawnError = new Promise<Error>((resolve) => proc.once('error', resolve));
  const stop = async () => {
    await killAndWait(proc);
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    const failed = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
    if (failed !== undefined || proc.exitCode !== null) {
      await stop();
      throw new Error(`haproxy did not start (${failed?.message ?? `exit ${proc.exitCode}`}):\n${log}\n${config}`);
    }
    if (await accepts(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`haproxy was not listening on ${port} within 10 s:\n${log}\n${config}`);
    }
  }
  return { url: `http://127.0.0.1:${port}`, port, config, output: () => log, stop };
}
