/**
 * The relay as `npm run demo` runs it: a child process on loopback with an allowlisted environment, stopped with
 * nothing left behind; a relay that does not start (port taken, never listening, startup aborted) is a
 * DEMO_ERR_RELAY_START with its process gone; and run-demo itself, signalled while the relay starts, leaves no relay.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, processAlive } from '@oppie/test-kit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DemoError } from '../src/errors.js';
import { INHERITED_ENV, type RelayChild, relayEnv, startRelayChild } from '../src/relay-child.js';

const MAIN = fileURLToPath(new URL('../../../server/dist/main.js', import.meta.url));
const RUN_DEMO = fileURLToPath(new URL('../dist/run-demo.js', import.meta.url));

/**
 * These tests run the built relay and run-demo.js, which `npm test` builds first. A missing build fails under CI and
 * skips loudly elsewhere (run `npm run build`), never silently.
 */
function built(): boolean {
  const missing = [MAIN, RUN_DEMO].filter((f) => !existsSync(f));
  if (missing.length === 0) return true;
  const line = `${missing.join(', ')} missing: run \`npm run build\` first`;
  if (process.env.CI === 'true') throw new Error(line);
  console.warn(`\n!!! SKIPPED relay-child tests: ${line}\n`);
  return false;
}
const haveBuild = built();
const onLinux = process.platform === 'linux';
if (!onLinux)
  console.warn('\n!!! SKIPPED the run-demo signal test: it finds the relay child with `ps --ppid` (Linux only)\n');

/** Polls until the process is gone (a reaped child disappears at once; a grandchild when its parent reaps it). */
async function gone(pid: number, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (processAlive(pid)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** Hostile settings an operator's shell may export: inherited, each would change or break the demo's relay. */
const HOSTILE = {
  REDIS_URL: 'redis://127.0.0.1:1',
  TLS_CERT_FILE: '/nonexistent/cert.pem',
  TLS_KEY_FILE: '/nonexistent/key.pem',
  PUBLIC_URL: 'https://relay.elsewhere.example',
  JWT_SIGNING_KEY_FILE: '/nonexistent/jwt.pem',
  NODE_ENV: 'production',
};

let dir: string;
const started: RelayChild[] = [];
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'oppie-relay-child-'));
});
afterEach(async () => {
  for (const r of started.splice(0)) await r.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A stand-in relay that writes its pid next to itself and never says it listens. */
async function silentRelay(): Promise<{ main: string; pid: () => Promise<number> }> {
  const main = join(dir, 'silent-relay.mjs');
  await writeFile(
    main,
    "import { writeFileSync } from 'node:fs';\n" +
      "writeFileSync(new URL('./silent.pid', import.meta.url), String(process.pid));\n" +
      'setInterval(() => {}, 1000);\n',
  );
  const pidFile = join(dir, 'silent.pid');
  return {
    main,
    pid: async () => {
      const end = Date.now() + 10_000;
      while (!existsSync(pidFile)) {
        if (Date.now() > end) throw new Error('the stand-in relay never wrote its pid');
        await new Promise((r) => setTimeout(r, 20));
      }
      return Number(await readFile(pidFile, 'utf8'));
    },
  };
}

describe('relayEnv', () => {
  it('passes only the allowlisted variables, then the demo settings', () => {
    const env = relayEnv(
      { ...HOSTILE, PATH: '/usr/bin', HOME: '/home/me', SECRET_TOKEN: 'x' },
      { port: 0, dataDir: 'd' },
    );
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/me',
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: '0',
      DATA_DIR: 'd',
      LOG_LEVEL: 'warn',
    });
    expect(INHERITED_ENV).not.toContain('NODE_OPTIONS');
  });
});

describe.skipIf(!haveBuild)('startRelayChild', () => {
  it('starts on a free port despite a hostile environment, answers /api/health, and stop() leaves no process', async () => {
    const port = await freePort();
    const relay = await startRelayChild({
      main: MAIN,
      port,
      dataDir: join(dir, 'relay'),
      log: () => {},
      env: { ...process.env, ...HOSTILE },
    });
    started.push(relay);
    expect(relay.url).toBe(`http://127.0.0.1:${port}`);
    const health = await fetch(`${relay.url}/api/health`);
    expect(health.status).toBe(200);
    await health.body?.cancel();
    expect(processAlive(relay.pid)).toBe(true);
    await relay.stop();
    expect(await gone(relay.pid)).toBe(true);
    await relay.stop(); // twice is harmless
  });

  it('a port already taken: DEMO_ERR_RELAY_START', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const err = await startRelayChild({ main: MAIN, port, dataDir: join(dir, 'relay'), log: () => {} }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(DemoError);
      expect(err).toMatchObject({ code: 'DEMO_ERR_RELAY_START' });
      expect((err as Error).message).toMatch(/exited with \d+ before listening/);
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });

  it('a relay that never listens: DEMO_ERR_RELAY_START after the start timeout, its process killed', async () => {
    const silent = await silentRelay();
    const starting = startRelayChild({
      main: silent.main,
      port: 0,
      dataDir: dir,
      log: () => {},
      startTimeoutMs: 1_500,
    });
    const pid = await silent.pid();
    await expect(starting).rejects.toMatchObject({ name: 'DemoError', code: 'DEMO_ERR_RELAY_START' });
    expect(await gone(pid)).toBe(true);
  });

  it('aborted while starting (a signal during startup): DEMO_ERR_RELAY_START, its process killed', async () => {
    const silent = await silentRelay();
    const abort = new AbortController();
    const starting = startRelayChild({ main: silent.main, port: 0, dataDir: dir, log: () => {}, signal: abort.signal });
    const pid = await silent.pid();
    abort.abort();
    const err = await starting.catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'DEMO_ERR_RELAY_START', message: 'the relay did not start: startup aborted' });
    expect(await gone(pid)).toBe(true);
  });

  it('a missing entry point: DEMO_ERR_RELAY_START naming it', async () => {
    const main = join(dir, 'nope.js');
    await expect(startRelayChild({ main, port: 0, dataDir: dir, log: () => {} })).rejects.toMatchObject({
      code: 'DEMO_ERR_RELAY_START',
      message: `${main} is missing: run npm run build`,
    });
  });
});

/** The relay children of `parent` (by command line), from ps. */
function relayChildren(parent: number): number[] {
  let text = '';
  try {
    text = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(parent)], { encoding: 'utf8' });
  } catch {
    return []; // ps exits 1 when there is no child
  }
  return text
    .split('\n')
    .filter((l) => l.includes('server/dist/main.js'))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

describe.skipIf(!haveBuild || !onLinux)('npm run demo', () => {
  let demo: ChildProcess | undefined;
  afterEach(() => {
    if (demo?.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
  });

  it('SIGTERM while the relay child starts: run-demo exits 0 and the relay child is gone', async () => {
    const args = [RUN_DEMO, '--state', dir, '--relay-port', String(await freePort())];
    demo = spawn(process.execPath, [...args, '--pwa-port', String(await freePort())], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    demo.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    demo.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const exited = new Promise<number | null>((resolve) => demo?.once('exit', (code) => resolve(code)));
    const end = Date.now() + 15_000;
    let children: number[] = [];
    while (children.length === 0) {
      if (Date.now() > end) throw new Error(`no relay child appeared; output: ${output}`);
      await new Promise((r) => setTimeout(r, 10));
      children = relayChildren(demo.pid as number);
    }
    demo.kill('SIGTERM');
    expect(await exited, output).toBe(0);
    expect(output).toContain('SIGTERM during startup: stopping');
    for (const pid of children) expect(await gone(pid)).toBe(true);
  });
});
