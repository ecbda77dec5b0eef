import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRelay, type TestRelay } from '@oppie/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { sdkClient } from './sdk-fixture.js';

// The built command, as a user runs it (npm test builds first).
const CLI = new URL('../../../sidecar-sdk/dist/cli.js', import.meta.url).pathname;

let t: TestRelay | undefined;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await t?.close();
});

function run(
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; output: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  cleanups.push(() => {
    child.kill('SIGKILL');
  });
  return { child, output: () => out, exit };
}

async function waitFor(pred: () => boolean, what: () => string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('oppie-sidecar command, end to end', () => {
  it('pairs a phone, bridges a real Unix socket both ways, lists devices and revokes the phone', async () => {
    t = await startTestRelay();
    const dir = mkdtempSync(join(tmpdir(), 'oppie-cli-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const env = { OPPIE_RELAY_URL: t.url, OPPIE_SIDECAR_DIR: join(dir, 'sidecar') };

    const pair = run(['pair', '--name', 'workstation'], env);
    await waitFor(() => /oppie:\/\/pair\?\S+/.test(pair.output()), pair.output);
    const link = /oppie:\/\/pair\?\S+/.exec(pair.output())?.[0] as string;
    const phone = await sdkClient(t.url, 'pwa', 'phone');
    cleanups.push(() => phone.close());
    const paired = await phone.pair(link);
    expect(await pair.exit).toBe(0);
    expect(pair.output()).toContain(paired.sas);

    const sock = join(dir, 'ipc.sock');
    const bridge = run(['run', '--ipc', sock], env);
    await waitFor(() => bridge.output().includes(sock), bridge.output);
    const local = connect(sock);
    cleanups.push(() => {
      local.destroy();
    });
    let lines = '';
    local.on('data', (d) => {
      lines += d.toString();
    });
    await new Promise<void>((r) => local.once('connect', () => r()));
    const progress = new Promise((resolve) => phone.events.on('progress', (m) => resolve(m.payload)));
    local.write('{"id":"l1","type":"progress","payload":{"pct":10}}\n');
    local.write('not json\n');
    expect(await progress).toEqual({ pct: 10 });
    await waitFor(
      () => lines.includes('"ok":true') && lines.includes('IPC_ERR_BAD_LINE'),
      () => lines,
    );
    await phone.send('chat', { text: 'from the phone' });
    await waitFor(
      () => lines.includes('from the phone'),
      () => lines,
    );
    bridge.child.kill('SIGTERM');
    expect(await bridge.exit).toBe(0);

    const devices = run(['devices'], env);
    expect(await devices.exit).toBe(0);
    expect(devices.output()).toContain(phone.deviceId);
    const revoke = run(['revoke', phone.deviceId], env);
    expect(await revoke.exit).toBe(0);
    const after = run(['devices'], env);
    expect(await after.exit).toBe(0);
    expect(after.output()).not.toContain(phone.deviceId);
  }, 60_000);
});
