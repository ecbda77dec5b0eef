/**
 * The relay as a separate Node process (`node server/dist/main.js`), as production runs it: one per instance of a
 * scale-out test, killable with SIGKILL and restartable on the same port and data dir. Needs the server built
 * (`npm run build`); `startTestRelay` is the in-process alternative for everything else.
 *
 * @example
 * const a = await startRelayProcess({ env: { REDIS_URL: redis.url } });
 * await a.kill(); // SIGKILL, waits for the exit
 * await a.restart(); // same port, same DATA_DIR
 * await a.stop(); // SIGTERM, waits, removes the temp data dir
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './redis.js';

/** `server/dist/main.js`, from this file in test/src (vitest) or test/dist (built). */
export const RELAY_MAIN = fileURLToPath(new URL('../../server/dist/main.js', import.meta.url));

const READY = /Oppie Relay listening on (\S+)/;
const OUTPUT_LIMIT = 65_536;

export interface StartRelayProcessOptions {
  /**
   * Added to (and overriding) NODE_ENV=test, HOST=127.0.0.1, PORT, DATA_DIR=<temp dir>, LOG_LEVEL=warn. Of the
   * parent's environment only PATH, HOME, TMPDIR, LANG and TZ are passed on.
   */
  readonly env?: Readonly<Record<string, string>>;
  /** Default: a free port, kept across restarts. */
  readonly port?: number;
  /** How long to wait for the listening line. Default 15 s. */
  readonly startTimeoutMs?: number;
}

export interface RelayProcess {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  /** DATA_DIR of this instance (kept across restarts). */
  readonly dataDir: string;
  /** Pid of the current process (a new one after `restart()`). */
  readonly pid: number;
  /** Whether the current process is running. */
  running(): boolean;
  /** Sends `signal` (SIGKILL by default) and waits for the exit. Port and data dir are kept for `restart()`. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Stops the process if it runs (SIGTERM, waits), then starts it again on the same port and data dir. */
  restart(): Promise<void>;
  /** SIGTERM (SIGKILL after 10 s), waits for the exit, removes the temp data dir. Final. */
  stop(): Promise<void>;
  /** What the process (and earlier ones of this instance) printed: the last 64 KiB of stdout and stderr. */
  output(): string;
}

function pick(from: NodeJS.ProcessEnv, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = from[n];
    if (v !== undefined) out[n] = v;
  }
  return out;
}

async function exitOf(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill(signal);
  const timer = signal === 'SIGKILL' ? undefined : setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/**
 * Spawns a relay on 127.0.0.1 and resolves once it printed "Oppie Relay listening on"; rejects with its output when
 * it exits first or does not listen within the timeout (the process is killed then).
 */
export async function startRelayProcess(opts: StartRelayProcessOptions = {}): Promise<RelayProcess> {
  if (!existsSync(RELAY_MAIN)) throw new Error(`${RELAY_MAIN} is missing: build the server first (npm run build)`);
  const port = opts.port ?? (await freePort());
  const ownDir = opts.env?.DATA_DIR === undefined;
  const dataDir = opts.env?.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'oppie-relay-'));
  // Not the parent's environment: a stray PUBLIC_URL or REDIS_URL in the shell must not reconfigure the relays.
  const env: Record<string, string> = {
    ...pick(process.env, ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']),
    NODE_ENV: 'test',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    ...opts.env,
  };
  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  let log = '';
  const append = (d: Buffer) => {
    log = (log + d.toString()).slice(-OUTPUT_LIMIT);
  };

  const launch = (): Promise<ChildProcess> => {
    const proc = spawn(process.execPath, [RELAY_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let mine = '';
    const collect = (d: Buffer) => {
      append(d);
      mine = (mine + d.toString()).slice(-OUTPUT_LIMIT);
    };
    proc.stdout?.on('data', collect);
    proc.stderr?.on('data', collect);
    return new Promise((resolve, reject) => {
      let stdout = '';
      let failed = false;
      const fail = (why: string) => {
        if (failed) return;
        failed = true;
        clearTimeout(timer);
        proc.stdout?.off('data', onData);
        void exitOf(proc, 'SIGKILL').then(() => reject(new Error(`relay on ${port} ${why}:\n${mine}`)));
      };
      const onData = (d: Buffer) => {
        stdout += d.toString();
        if (!READY.test(stdout)) return;
        clearTimeout(timer);
        proc.stdout?.off('data', onData);
        proc.off('close', onExit);
        resolve(proc);
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited (${signal ?? code})`);
      const timer = setTimeout(() => fail(`did not listen within ${timeoutMs} ms`), timeoutMs);
      proc.stdout?.on('data', onData);
      proc.once('close', onExit);
      proc.once('error', (err) => fail(`could not be spawned (${err.message})`));
    });
  };

  let proc: ChildProcess;
  try {
    proc = await launch();
  } catch (err) {
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const running = () => proc.exitCode === null && proc.signalCode === null;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    get pid() {
      return proc.pid ?? -1;
    },
    running,
    kill: (signal: NodeJS.Signals = 'SIGKILL') => exitOf(proc, signal),
    async restart() {
      await exitOf(proc, 'SIGTERM');
      append(Buffer.from(`--- restart of the relay on ${port} ---\n`));
      proc = await launch();
    },
    async stop() {
      await exitOf(proc, 'SIGTERM');
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
    output: () => log,
  };
}
