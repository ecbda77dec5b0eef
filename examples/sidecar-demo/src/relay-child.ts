/** The relay as a child process (`node server/dist/main.js`), on loopback only, for `npm run demo`. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { DemoError } from './errors.js';

export interface RelayChild {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The child's process id. */
  readonly pid: number;
  /** Resolves when the process exits by itself (a crash); never after `stop()`. */
  readonly exited: Promise<number | null>;
  /** SIGTERM, SIGKILL after 5 s; resolves on exit. Safe to call twice. */
  stop(): Promise<void>;
}

export interface RelayChildOptions {
  /** `server/dist/main.js`. */
  readonly main: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly dataDir: string;
  /** The relay's output lines (warnings and errors; LOG_LEVEL=warn). */
  readonly log: (line: string) => void;
  /** Until the "listening" line and a healthy /api/health. Default 15 s. */
  readonly startTimeoutMs?: number;
  /** Aborting it while the relay starts kills the child and rejects (the demo got a signal during startup). */
  readonly signal?: AbortSignal;
  /** Where the allowlisted variables come from (see {@link relayEnv}). Default `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Variables the relay child inherits, where set: what a Node process needs to find its tools and a temp dir. */
export const INHERITED_ENV = ['PATH', 'HOME', 'TMPDIR', 'TEMP', 'TMP', 'SYSTEMROOT', 'LANG', 'TZ'] as const;

/** A health probe that takes longer than this is given up and tried again. */
const HEALTH_REQUEST_MS = 1_000;

/**
 * The relay child's whole environment: {@link INHERITED_ENV} from `parent`, then the demo's own settings. Nothing else
 * is inherited: an exported REDIS_URL, TLS_CERT_FILE, PUBLIC_URL or JWT_SIGNING_KEY_FILE would change or break the demo.
 * NODE_ENV=development gives open registration and a generated signing key.
 *
 * @example
 * spawn(process.execPath, [main], { env: relayEnv(process.env, { port: 0, dataDir: '.demo/relay' }) });
 */
export function relayEnv(parent: NodeJS.ProcessEnv, own: { port: number; dataDir: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of INHERITED_ENV) if (parent[name] !== undefined) env[name] = parent[name];
  return {
    ...env,
    NODE_ENV: 'development',
    HOST: '127.0.0.1',
    PORT: String(own.port),
    DATA_DIR: own.dataDir,
    LOG_LEVEL: 'warn',
  };
}

const LISTENING = /Oppie Relay listening on (http:\/\/\S+)/;

/**
 * Spawns the relay with HOST=127.0.0.1, PORT and DATA_DIR, waits for its "listening" line and a 200 from
 * /api/health, and resolves; rejects with DEMO_ERR_RELAY_START (and the process killed) otherwise.
 *
 * @example
 * const relay = await startRelayChild({ main, port: 0, dataDir: '.demo/relay', log: console.log });
 * await relay.stop();
 */
export async function startRelayChild(opts: RelayChildOptions): Promise<RelayChild> {
  if (!existsSync(opts.main)) throw new DemoError('DEMO_ERR_RELAY_START', `${opts.main} is missing: run npm run build`);
  if (opts.signal?.aborted)
    throw new DemoError('DEMO_ERR_RELAY_START', 'startup aborted', { cause: opts.signal.reason });
  const child = spawn(process.execPath, [opts.main], {
    env: relayEnv(opts.env ?? process.env, { port: opts.port, dataDir: opts.dataDir }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stopping = false;
  const exitedAny = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(child.exitCode)); // not spawned (or not killable): nothing left to wait for
  });
  const listening = new Promise<string>((resolve) => {
    let pending = '';
    const onData = (d: Buffer) => {
      pending += d.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const m = LISTENING.exec(line);
        if (m !== null) resolve(m[1] as string);
        else if (line.trim() !== '') opts.log(line);
      }
      if (pending.length > 65_536) pending = ''; // a line this long is noise; keep the buffer bounded
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
  const stop = async () => {
    stopping = true;
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exitedAny;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (opts.startTimeoutMs ?? 15_000);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new Error('startup aborted'));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
    const url = await Promise.race([
      listening,
      aborted,
      exitedAny.then((code) => Promise.reject(new Error(`the relay exited with ${code} before listening`))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no "listening" line')), deadline - Date.now());
      }),
    ]);
    await Promise.race([waitHealthy(url, deadline, opts.signal), aborted]);
    const exited = exitedAny.then((code) => (stopping ? new Promise<never>(() => {}) : code));
    if (child.pid === undefined) throw new Error('the relay has no process id');
    return { url, pid: child.pid, exited, stop };
  } catch (err) {
    await stop();
    throw new DemoError('DEMO_ERR_RELAY_START', `the relay did not start: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** Polls /api/health until a 200 or `deadline`; each request gets at most {@link HEALTH_REQUEST_MS}. */
async function waitHealthy(url: string, deadline: number, signal: AbortSignal | undefined): Promise<void> {
  let last = 'no answer';
  while (Date.now() < deadline && signal?.aborted !== true) {
    try {
      const wait = Math.max(1, Math.min(HEALTH_REQUEST_MS, deadline - Date.now()));
      const res = await fetch(`${url}/api/health`, { signal: AbortSignal.timeout(wait) });
      await res.body?.cancel();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`/api/health: ${last}`);
}
