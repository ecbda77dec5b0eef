import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { IncomingMessage } from '@oppie/client-sdk';
import { startTestRelay } from '@oppie/test-kit';
import { describe, expect, it } from 'vitest';
import { sdkClient } from './sdk-fixture.js';

const root = new URL('../../../', import.meta.url).pathname;

describe('README embed example', () => {
  it('runs as written against a relay and answers a phone', async () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const block = /<!-- embed-example:start -->\s*```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBeDefined();
    expect((block as string).trim().split('\n').length).toBeLessThanOrEqual(11);
    // Inside the repository, so `@oppie/sidecar-sdk` resolves to the workspace package (built by `npm test`).
    const dir = mkdtempSync(join(root, 'test', '.readme-example-'));
    writeFileSync(join(dir, 'embed.mjs'), block as string);
    const t = await startTestRelay();
    const child = spawn(process.execPath, [join(dir, 'embed.mjs')], {
      cwd: dir,
      env: { ...process.env, OPPIE_RELAY_URL: t.url },
    });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        out += d.toString();
      });
      const link = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no pairing link printed: ${out}`)), 15_000);
        child.stdout.on('data', () => {
          const m = /Open on your phone: (oppie:\/\/\S+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1] as string);
          }
        });
      });
      const phone = await sdkClient(t.url, 'pwa', 'phone');
      await phone.pair(link);
      const progress = new Promise<IncomingMessage>((resolve) => phone.events.on('progress', resolve));
      await phone.send('runPlan', { plan: 'refactor' });
      expect((await progress).payload).toEqual({ plan: { plan: 'refactor' }, percent: 100 });
      await phone.close();
    } finally {
      child.kill('SIGTERM');
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
