import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { nodeCompression } from '@oppie/client-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { DeflateThread, workerCompression } from '../src/deflate-thread.js';

const base64Random = (n: number) => new TextEncoder().encode(randomBytes(n).toString('base64'));
const diffText = (n: number) => {
  let s = '';
  for (let i = 0; s.length < n; i++)
    s += `+  const value${i} = compute(input[${i % 97}]); // ${randomBytes(6).toString('hex')}\n`;
  return new TextEncoder().encode(s.slice(0, n));
};

/** Byte equality without a deep comparison's per-element walk (seconds for a few hundred KiB). */
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);

const threads: DeflateThread[] = [];
const thread = (source?: string) => {
  const t = new DeflateThread(source);
  threads.push(t);
  return t;
};
afterEach(async () => {
  await Promise.all(threads.splice(0).map((t) => t.close()));
});

describe('DeflateThread', () => {
  const here = nodeCompression(zlib);

  it('deflates on its thread to the same bytes as nodeCompression on the calling thread, probe included', async () => {
    const t = thread();
    // Base64 of random bytes takes Huffman coding alone, text level 1; small payloads skip the probe; large ones
    // go to zlib's pool in nodeCompression.
    const inputs = [base64Random(48 * 1024), diffText(64 * 1024), diffText(300 * 1024), diffText(8 * 1024)];
    for (const bytes of inputs) {
      const before = bytes.slice();
      expect(same(await t.deflate(bytes), await here.deflateRaw(bytes))).toBe(true);
      expect(same(bytes, before)).toBe(true);
    }
    expect(t.stats).toEqual({ threaded: 4, inPlace: 0, failed: false });
  });

  it('answers concurrent calls each with its own result', async () => {
    const t = thread();
    const inputs = Array.from({ length: 12 }, (_, i) => (i % 2 === 0 ? diffText(64 * 1024) : base64Random(40_000)));
    const outs = await Promise.all(inputs.map((b) => t.deflate(b)));
    outs.forEach((out, i) => {
      expect(same(zlib.inflateRawSync(out), Buffer.from(inputs[i] as Uint8Array))).toBe(true);
    });
  });

  it('deflates here what a thread that dies was holding, and everything after, counting it', async () => {
    // Exits on its first request, with that request unanswered.
    const t = thread("require('node:worker_threads').parentPort.on('message', () => process.exit(3));");
    const a = diffText(64 * 1024);
    const b = base64Random(48 * 1024);
    const [outA, outB] = await Promise.all([t.deflate(a), t.deflate(b)]);
    expect(same(outA, await here.deflateRaw(a))).toBe(true);
    expect(same(outB, await here.deflateRaw(b))).toBe(true);
    expect(same(await t.deflate(a), await here.deflateRaw(a))).toBe(true);
    expect(t.stats).toEqual({ threaded: 0, inPlace: 3, failed: true });
  });

  it('deflates here when its thread cannot start', async () => {
    const t = thread('this is not javascript (');
    const a = diffText(32 * 1024);
    expect(same(await t.deflate(a), await here.deflateRaw(a))).toBe(true);
    expect(t.stats.failed).toBe(true);
    expect(t.stats.inPlace).toBe(1);
  });

  it('rejects a call the thread reports as failed, and goes on with the next', async () => {
    const t = thread(`
      const { parentPort } = require('node:worker_threads');
      const zlib = require('node:zlib');
      parentPort.on('message', ({ id, bytes }) => {
        if (bytes.length === 1) return parentPort.postMessage({ id, error: 'refused' });
        const out = zlib.deflateRawSync(bytes, { level: 1 });
        parentPort.postMessage({ id, buffer: out.buffer, offset: out.byteOffset, length: out.byteLength }, [out.buffer]);
      });`);
    await expect(t.deflate(new Uint8Array(1))).rejects.toThrow(/refused/);
    const a = diffText(20_000);
    expect(same(await t.deflate(a), zlib.deflateRawSync(a, { level: 1 }))).toBe(true);
    expect(t.stats).toEqual({ threaded: 1, inPlace: 0, failed: false });
  });

  it('does not keep a finished process alive', async () => {
    const built = fileURLToPath(new URL('../dist/deflate-thread.js', import.meta.url));
    // Run from dist/ (a worker cannot load TypeScript sources): `npm test` builds first.
    expect(existsSync(built), `${built} is missing: run npm run build`).toBe(true);
    const script = `
      import { DeflateThread } from ${JSON.stringify(built)};
      const t = new DeflateThread();
      const out = await t.deflate(new Uint8Array(65536).fill(97));
      console.log('deflated', out.length, t.stats.threaded);`;
    const started = Date.now();
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 15_000 }, (err, stdout) =>
        err ? reject(err) : resolve({ stdout }),
      ),
    );
    expect(stdout.trim()).toMatch(/^deflated \d+ 1$/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe('workerCompression', () => {
  it('makes the same bytes as nodeCompression, deflating payloads from 16 KiB on the thread', async () => {
    const t = thread();
    const threaded = workerCompression(t);
    const inline = nodeCompression(zlib);
    for (const bytes of [base64Random(48 * 1024), diffText(64 * 1024), diffText(200 * 1024), diffText(4 * 1024)]) {
      const out = await threaded.deflateRaw(bytes);
      expect(same(out, await inline.deflateRaw(bytes))).toBe(true);
      expect(same(await threaded.inflateRaw(out, bytes.length), bytes)).toBe(true);
    }
    // The three large payloads went to the thread, the small one did not.
    expect(t.stats.threaded).toBe(availableParallelism() >= 2 ? 3 : 0);
  });

  it('keeps the inflate bound and its error codes', async () => {
    const threaded = workerCompression(thread());
    const bomb = zlib.deflateRawSync(new Uint8Array(1024 * 1024));
    await expect(threaded.inflateRaw(bomb, 1000)).rejects.toMatchObject({ code: 'OPPIE_ERR_PAYLOAD_TOO_LARGE' });
    await expect(threaded.inflateRaw(new Uint8Array([0xff, 0xff, 0xff]), 1000)).rejects.toMatchObject({
      code: 'OPPIE_ERR_PROTOCOL',
    });
  });
});
