import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runOnShapedLink, shapedLinkMissing } from '../src/shaped-link.js';

/** Under CI a shaped link must work (CI runs as root with iproute2); elsewhere a loud skip saying why. */
function requireShapedLink(): boolean {
  const missing = shapedLinkMissing();
  if (missing === undefined) return true;
  if (process.env.CI === 'true') throw new Error(`bench --link-mbit must work in CI: ${missing}`);
  console.warn(`\n!!! SKIPPED: bench --link-mbit cannot run here (${missing}); run as root with iproute2\n`);
  return false;
}

/**
 * Run in the shaped namespace: 2 MB over TCP on 127.0.0.1, and the seconds it took written to $SHAPED_OUT. The rate
 * is a cap, so load on the machine can only make the transfer slower than the link allows, never faster.
 */
const TRANSFER = `
const net = require('node:net');
const bytes = 2_000_000;
const server = net.createServer((s) => {
  let got = 0;
  s.on('data', (d) => { got += d.length; if (got >= bytes) s.end(); });
});
server.listen(0, '127.0.0.1', () => {
  const t0 = process.hrtime.bigint();
  const c = net.connect(server.address().port, '127.0.0.1', () => c.end(Buffer.alloc(bytes)));
  c.on('close', () => {
    require('node:fs').writeFileSync(process.env.SHAPED_OUT, String(Number(process.hrtime.bigint() - t0) / 1e9));
    server.close();
  });
});
`;

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
  delete process.env.SHAPED_OUT;
});

describe('bench --link-mbit', () => {
  it('runs a command on a loopback capped at the rate, then removes its namespace', async () => {
    if (!requireShapedLink()) return;
    dir = mkdtempSync(join(tmpdir(), 'shaped-'));
    process.env.SHAPED_OUT = join(dir, 'seconds');
    // 8 Mbit/s is 1 MB/s: 2 MB take about 2 s less the 256 KiB bucket; unshaped, a few milliseconds.
    const code = await runOnShapedLink(8, ['-e', TRANSFER]);
    expect(code).toBe(0);
    expect(Number(readFileSync(process.env.SHAPED_OUT, 'utf8'))).toBeGreaterThan(1.4);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(`oppie-${process.pid}-bench`);
  });

  it('removes its namespace when the command fails, and passes its exit code on', async () => {
    if (!requireShapedLink()) return;
    expect(await runOnShapedLink(8, ['-e', 'process.exit(3)'])).toBe(3);
    expect(await runOnShapedLink(8, ['-e', 'process.kill(process.pid, "SIGKILL")'])).toBe(1);
    expect(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })).not.toContain(`oppie-${process.pid}-bench`);
  });

  it('refuses a rate out of range', async () => {
    await expect(runOnShapedLink(0, ['-e', ''])).rejects.toThrow(/--link-mbit must be 1 to 100000, got 0/);
  });
});
