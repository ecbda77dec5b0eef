import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
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

/**
 * Text whose 4 KiB probe deflates to `low`..`high` of its size (lines of `k` random base64 characters and 64 - k
 * repeated ones, `k` searched): payloads on either side of nodeCompression's Huffman-only threshold (0.6).
 */
const nearThreshold = (low: number, high: number) => {
  for (let k = 30; k <= 64; k++) {
    let s = '';
    while (s.length < 64 * 1024) s += `${randomBytes(48).toString('base64').slice(0, k)}${'x'.repeat(64 - k)}\n`;
    const bytes = new TextEncoder().encode(s.slice(0, 64 * 1024));
    const from = (bytes.length - 4096) >>> 1;
    const ratio = zlib.deflateRawSync(bytes.subarray(from, from + 4096), { level: 1 }).length / 4096;
    if (ratio >= low && ratio < high) return bytes;
  }
  throw new Error(`no payload with a probe ratio in [${low}, ${high})`);
};

const threads: DeflateThread[] = [];
const thread = (source?: string, maxPendingBytes?: number) => {
  const t = new DeflateThread(source, maxPendingBytes);
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
    expect(t.stats).toEqual({ threaded: 4, inPlace: 0, pending: 0, failed: false });
  });

  it('makes the same choice as nodeCompression on either side of its Huffman-only threshold', async () => {
    const t = thread();
    for (const bytes of [nearThreshold(0.56, 0.6), nearThreshold(0.6, 0.64)]) {
      expect(same(await t.deflate(bytes), await here.deflateRaw(bytes))).toBe(true);
    }
    expect(t.stats.threaded).toBe(2);
  });

  it("copies a Buffer's bytes and leaves the caller's memory alone (a Buffer's slice() would share it)", async () => {
    const t = thread();
    const parent = Buffer.from(diffText(96 * 1024));
    const whole = Buffer.from(diffText(64 * 1024));
    const part = parent.subarray(1000, 1000 + 48 * 1024);
    const before = [Buffer.from(parent), Buffer.from(whole)];
    const [outWhole, outPart] = await Promise.all([t.deflate(whole), t.deflate(part)]);
    expect(same(outWhole, await here.deflateRaw(whole))).toBe(true);
    expect(same(outPart, await here.deflateRaw(part))).toBe(true);
    expect(parent.equals(before[0] as Buffer) && whole.equals(before[1] as Buffer)).toBe(true);
    expect(t.stats.threaded).toBe(2);
  });

  it('takes bytes in shared memory (whose buffer cannot be transferred) without leaving a call pending', async () => {
    const t = thread();
    const text = diffText(32 * 1024);
    const shared = new Uint8Array(new SharedArrayBuffer(text.length));
    shared.set(text);
    expect(same(await t.deflate(shared), await here.deflateRaw(text))).toBe(true);
    expect(t.stats).toEqual({ threaded: 1, inPlace: 0, pending: 0, failed: false });
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
    expect(t.stats).toEqual({ threaded: 0, inPlace: 3, pending: 0, failed: true });
    expect(t.lastError?.message).toMatch(/exited \(3\)/);
  });

  it('deflates here what would take its queue past the bound, and says nothing failed', async () => {
    // Never answers: what is handed over stays pending until close() deflates it here.
    const t = thread("require('node:worker_threads').parentPort.on('message', () => {});", 100 * 1024);
    const a = diffText(64 * 1024);
    const b = diffText(64 * 1024);
    const first = t.deflate(a);
    expect(same(await t.deflate(b), await here.deflateRaw(b))).toBe(true);
    expect(t.stats).toEqual({ threaded: 0, inPlace: 1, pending: 1, failed: false });
    expect(t.lastError).toBeUndefined();
    await t.close();
    expect(same(await first, await here.deflateRaw(a))).toBe(true);
  });

  it('deflates here when its thread fails as it starts', async () => {
    const t = thread('this is not javascript (');
    const a = diffText(32 * 1024);
    expect(same(await t.deflate(a), await here.deflateRaw(a))).toBe(true);
    expect(t.stats.failed).toBe(true);
    expect(t.stats.inPlace).toBe(1);
  });

  it('deflates here a call its thread answers with an error, and goes on with the next', async () => {
    const t = thread(`
      const { parentPort } = require('node:worker_threads');
      const zlib = require('node:zlib');
      parentPort.on('message', ({ id, bytes }) => {
        if (bytes.length === 20001) return parentPort.postMessage({ id, error: 'refused' });
        const out = zlib.deflateRawSync(bytes, { level: 1 });
        parentPort.postMessage({ id, buffer: out.buffer, offset: out.byteOffset, length: out.byteLength }, [out.buffer]);
      });`);
    const refused = diffText(20_001);
    expect(same(await t.deflate(refused), await here.deflateRaw(refused))).toBe(true);
    const a = diffText(20_000);
    expect(same(await t.deflate(a), zlib.deflateRawSync(a, { level: 1 }))).toBe(true);
    expect(t.stats).toEqual({ threaded: 1, inPlace: 1, pending: 0, failed: false });
    expect(t.lastError?.message).toMatch(/refused/);
  });

  it('does not keep a finished process alive', async () => {
    const built = fileURLToPath(new URL('../dist/deflate-thread.js', import.meta.url));
    const source = fileURLToPath(new URL('../src/deflate-thread.ts', import.meta.url));
    // Run from dist/ (a plain node process cannot load TypeScript sources): `npm test` builds first.
    expect(existsSync(built), `${built} is missing: run npm run build`).toBe(true);
    // tsc -b leaves an output whose content did not change as it was, and marks the build in its .tsbuildinfo.
    const builtAt = Math.max(statSync(built).mtimeMs, statSync(join(dirname(built), '.tsbuildinfo')).mtimeMs);
    expect(builtAt, `${built} is older than its source: run npm run build`).toBeGreaterThanOrEqual(
      statSync(source).mtimeMs,
    );
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
    const sizes = [48 * 1024, 64 * 1024, 200 * 1024, 4 * 1024, 16 * 1024 - 1, 16 * 1024];
    for (const [i, size] of sizes.entries()) {
      const bytes = i === 0 ? base64Random(size) : diffText(size);
      const out = await threaded.deflateRaw(bytes);
      expect(same(out, await inline.deflateRaw(bytes))).toBe(true);
      expect(same(await threaded.inflateRaw(out, bytes.length), bytes)).toBe(true);
    }
    // The payloads from 16 KiB on went to the thread (four of them), the two below did not.
    expect(t.stats.threaded).toBe(availableParallelism() >= 2 ? 4 : 0);
  });

  it('with skipLowGain, leaves base64 of random bytes undeflated without a trip to the thread; text still goes', async () => {
    const t = thread();
    const threaded = workerCompression(t);
    const inline = nodeCompression(zlib);
    const random = base64Random(48 * 1024);
    // The very same bytes (identity, not a deep comparison, whose message would print 64 KiB on a failure).
    expect((await threaded.deflateRaw(random, { skipLowGain: true })) === random).toBe(true);
    expect((await inline.deflateRaw(random, { skipLowGain: true })) === random).toBe(true);
    expect(t.stats).toMatchObject({ threaded: 0, inPlace: 0, pending: 0 });
    // Deflated as without the hint: text; a payload whose probe is just below the threshold (LZ77 still pays); and
    // one just above it whose bytes carry fewer than LOW_GAIN_MIN_BITS (the entropy test never skips such data).
    for (const bytes of [diffText(64 * 1024), nearThreshold(0.5, 0.6), nearThreshold(0.6, 0.75)]) {
      const out = await threaded.deflateRaw(bytes, { skipLowGain: true });
      // The same choice and bytes as nodeCompression with the same hint, and as without it.
      expect(same(out, await inline.deflateRaw(bytes, { skipLowGain: true }))).toBe(true);
      expect(same(out, await inline.deflateRaw(bytes))).toBe(true);
      expect(out.length).toBeLessThan(bytes.length);
    }
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
