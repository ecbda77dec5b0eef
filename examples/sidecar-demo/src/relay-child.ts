/** The relay as a child process (`node server/dist/main.js`), on loopback only, for `npm run demo`. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { DemoError } from './errors.js';

export interface RelayChild {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
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
  readonly startTimeoutMs?: number;
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
  const child = spawn(process.execPath, [opts.main], {
    // NODE_ENV=development: open registration and a generated signing key, whatever the caller's shell exports.
    env: {
      ...process.env,
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(opts.port),
      DATA_DIR: opts.dataDir,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stopping = false;
  const exitedAny = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
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
  try {
    const url = await Promise.race([
      listening,
      exitedAny.then((code) => Promise.reject(new Error(`the relay exited with ${code} before listening`))),
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no "listening" line')), deadline - Date.now()).unref(),
      ),
    ]);
    await waitHealthy(url, deadline);
    const exited = exitedAny.then((code) => (stopping ? new Promise<never>(() => {}) : code));
    return { url, exited, stop };
  } catch (err) {
    await stop();
    throw new DemoError('DEMO_ERR_RELAY_START', `the relay did not start: ${(err as Error).message}`, { cause: err });
  }
}

async function waitHealthy(url: string, deadline: number): Promise<void> {
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/api/health`);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`/api/health: ${last}`);
}
