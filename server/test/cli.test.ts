import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

// The command users run (README quick start), as built by `tsc -b` (which `npm test` runs first).
const MAIN = new URL('../dist/main.js', import.meta.url).pathname;
const dirs: string[] = [];
const children: ChildProcess[] = [];

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'oppie-cli-'));
  dirs.push(d);
  return d;
}

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function startRelay(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [MAIN, '--port', '0'], { env: { ...process.env, LOG_LEVEL: 'warn', ...env } });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`relay did not start: ${out}`)), 15_000);
    child.stdout?.on('data', () => {
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] as string, output: () => out });
      }
    });
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}: ${out}`)));
  });
}

describe('oppie-relay command', () => {
  it('exists (built by npm test)', () => {
    expect(existsSync(MAIN)).toBe(true);
  });

  it('starts on the embedded default, serves health, and stops gracefully on SIGTERM', async () => {
    const dataDir = tempDir();
    const { child, url } = await startRelay({ DATA_DIR: dataDir });
    const health = await fetch(`${url}/api/health`);
    expect(health.status).toBe(200);
    expect(existsSync(join(dataDir, 'relay.db'))).toBe(true);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('refuses a bad configuration naming the variable, with exit code 2', () => {
    const r = spawnSync(process.execPath, [MAIN], { env: { ...process.env, PORT: 'eighty' }, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('PORT (--port): must be an integer');
  });

  it('issues enrollment tokens that a REGISTRATION=enrollment relay accepts once', async () => {
    const dataDir = tempDir();
    const env = { ...process.env, DATA_DIR: dataDir, REGISTRATION: 'enrollment' };
    const r = spawnSync(process.execPath, [MAIN, 'enroll', '--uses', '1'], { env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    const token = r.stdout.trim();
    expect(token.length).toBeGreaterThanOrEqual(32);
    const { url } = await startRelay({ DATA_DIR: dataDir, REGISTRATION: 'enrollment' });
    const { generateDeviceKey, freshProof } = await import('@oppie/test-kit');
    const register = async (enrollmentToken?: string) => {
      const key = generateDeviceKey();
      const proof = await freshProof(url, 'register', key);
      const res = await fetch(`${url}/api/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ proof, name: 'ws', ...(enrollmentToken && { enrollmentToken }) }),
      });
      return { status: res.status, body: (await res.json()) as { code?: string } };
    };
    expect((await register()).body.code).toBe('RELAY_ERR_ENROLLMENT_REQUIRED');
    expect((await register(token)).status).toBe(201);
    expect((await register(token)).body.code).toBe('RELAY_ERR_ENROLLMENT_INVALID');
  });

  it('rotates the signing key: the new key signs, the old one stays in the JWKS', async () => {
    const dataDir = tempDir();
    const first = await startRelay({ DATA_DIR: dataDir });
    const before = (await (await fetch(`${first.url}/.well-known/jwks.json`)).json()) as {
      keys: Array<{ kid: string }>;
    };
    first.child.kill('SIGTERM');
    await new Promise((r) => first.child.once('exit', r));
    const r = spawnSync(process.execPath, [MAIN, 'keys', 'rotate'], {
      env: { ...process.env, DATA_DIR: dataDir },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    const second = await startRelay({ DATA_DIR: dataDir });
    const after = (await (await fetch(`${second.url}/.well-known/jwks.json`)).json()) as {
      keys: Array<{ kid: string }>;
    };
    expect(after.keys.map((k) => k.kid)).toEqual(expect.arrayContaining(before.keys.map((k) => k.kid)));
    expect(after.keys.length).toBe(before.keys.length + 1);
  });
});
