import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OppieError } from '@oppie/client-sdk';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { decodeKey, encodeKey, FileStore, MAX_ENCODED_KEY_LENGTH } from '../src/file-store.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'oppie-fs-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('FileStore', () => {
  it('persists values across instances', async () => {
    const dir = join(root, 'data');
    const a = new FileStore(dir);
    await a.set('identity', '{"k":1}');
    await a.set('outbox/p1/1', 'one');
    const b = new FileStore(dir);
    expect(await b.get('identity')).toBe('{"k":1}');
    expect(await b.get('outbox/p1/1')).toBe('one');
    expect(await b.get('missing')).toBeUndefined();
    await b.delete('identity');
    await b.delete('identity'); // deleting a missing key is not an error
    expect(await new FileStore(dir).get('identity')).toBeUndefined();
  });

  it('stores bytes as they are, as durably as text, and reads either kind both ways', async () => {
    const dir = join(root, 'data');
    const a = new FileStore(dir);
    const wide = new Uint8Array([0x68, 0x69, 0x0a, 0xff, 0x00, 0x21]);
    await a.setBytes('outbox/e/p/0', wide.subarray(0, 5));
    wide.fill(7); // the store wrote its copy
    await a.set('text', 'v:t');
    const b = new FileStore(dir);
    const back = await b.getBytes('outbox/e/p/0');
    expect(back).toEqual(new Uint8Array([0x68, 0x69, 0x0a, 0xff, 0x00]));
    expect(Buffer.isBuffer(back)).toBe(false);
    expect(await b.getBytes('text')).toEqual(new TextEncoder().encode('v:t'));
    expect((await b.get('outbox/e/p/0'))?.slice(0, 3)).toBe('hi\n');
    expect(await b.getBytes('missing')).toBeUndefined();
    expect(a.dirSyncs).toBe(2);
    const err = await b.setBytes('x', 'text' as unknown as Uint8Array).catch((e: unknown) => e);
    expect((err as OppieError).code).toBe('OPPIE_ERR_STORAGE');
  });

  it('syncs the directory once per write or delete one at a time, and shares syncs among those in flight together', async () => {
    const dir = join(root, 'data');
    const store = new FileStore(dir);
    await store.set('a', '1');
    await store.delete('a');
    expect(store.dirSyncs).toBe(2);
    const keys = Array.from({ length: 50 }, (_, i) => `outbox/e/p/${i}`);
    for (const key of keys) await store.set(key, key);
    const before = store.dirSyncs;
    expect(before).toBe(52);
    await Promise.all(keys.map((key) => store.delete(key)));
    // Fifty unlinks made durable by a few syncs (each started after the unlinks it covers), not fifty.
    expect(store.dirSyncs - before).toBeGreaterThan(0);
    expect(store.dirSyncs - before).toBeLessThan(25);
    expect(await new FileStore(dir).keys('outbox/')).toEqual([]);
    await Promise.all(keys.map((key) => store.set(key, `v${key}`)));
    const reader = new FileStore(dir);
    for (const key of keys) expect(await reader.get(key)).toBe(`v${key}`);
  });

  it('deletes keys in order with one directory sync, stopping at the first failure (deleteInOrder)', async () => {
    const dir = join(root, 'data');
    const store = new FileStore(dir);
    for (const key of ['a', 'b', 'c', 'x']) await store.set(key, key);
    let syncs = store.dirSyncs;
    expect(await store.deleteInOrder(['a', 'missing', 'b'])).toEqual({ deleted: 3 }); // a missing key counts
    expect(store.dirSyncs - syncs).toBe(1);
    // A key whose file cannot be unlinked (a directory stands there): the keys after it stay.
    await mkdir(join(dir, encodeKey('bad')));
    syncs = store.dirSyncs;
    const { deleted, error } = await store.deleteInOrder(['c', 'bad', 'x']);
    expect(deleted).toBe(1);
    expect((error as OppieError).code).toBe('OPPIE_ERR_STORAGE');
    expect(store.dirSyncs - syncs).toBe(1); // what it did delete is durable
    expect((await new FileStore(dir).keys('')).sort()).toEqual(['bad', 'x']);
    syncs = store.dirSyncs;
    expect((await store.deleteInOrder(['bad'])).deleted).toBe(0);
    expect(store.dirSyncs - syncs).toBe(0);
  });

  it('creates the directory 0700 (tightening an existing one) and files 0600', async () => {
    const dir = join(root, 'nested', 'data');
    const store = new FileStore(dir);
    await store.set('k', 'v');
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, encodeKey('k')))).mode & 0o777).toBe(0o600);
    await store.set('k', 'overwritten');
    expect((await stat(join(dir, encodeKey('k')))).mode & 0o777).toBe(0o600);

    const loose = join(root, 'loose');
    await import('node:fs/promises').then((fs) => fs.mkdir(loose, { mode: 0o755 }));
    await new FileStore(loose).keys('');
    expect((await stat(loose)).mode & 0o777).toBe(0o700);
  });

  it('lists keys by prefix and ignores temp and foreign files', async () => {
    const store = new FileStore(root);
    await Promise.all(['outbox/a/1', 'outbox/a/2', 'outbox/b/1', 'peers'].map((k) => store.set(k, k)));
    await writeFile(join(root, '.tmp-deadbeef'), 'partial');
    await writeFile(join(root, 'README'), 'not a key');
    expect((await store.keys('outbox/a/')).sort()).toEqual(['outbox/a/1', 'outbox/a/2']);
    expect((await store.keys('')).sort()).toEqual(['outbox/a/1', 'outbox/a/2', 'outbox/b/1', 'peers']);
  });

  it('writes atomically: readers see the old or the new value, and no temp file remains', async () => {
    const store = new FileStore(root);
    const big = (c: string) => c.repeat(2 * 1024 * 1024);
    await store.set('k', big('a'));
    const writes = Promise.all(['b', 'c', 'd'].map((c) => store.set('k', big(c))));
    for (let i = 0; i < 50; i++) {
      const v = await readFile(join(root, encodeKey('k')), 'utf8');
      expect(v.length).toBe(2 * 1024 * 1024);
      expect(v[0]).toBe(v[v.length - 1]);
    }
    await writes;
    expect((await readdir(root)).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });

  it('round-trips weird keys, and keys differing only by case stay apart', async () => {
    const store = new FileStore(root);
    const keys = [
      '',
      '.',
      '..',
      '../escape',
      'a/b\\c',
      'Key',
      'key',
      'sp ace%20',
      '日本語',
      '🙂',
      'nul\u0000byte',
      'x'.repeat(70),
    ];
    for (const k of keys) await store.set(k, `v:${k}`);
    for (const k of keys) expect(await store.get(k)).toBe(`v:${k}`);
    expect((await store.keys('')).sort()).toEqual([...keys].sort());
    expect(await readdir(root)).toHaveLength(keys.length);
    for (const name of await readdir(root)) expect(name).toMatch(/^k[a-z0-9_%-]*$/);
  });

  it('encodeKey and decodeKey are inverse', () => {
    for (const k of ['', 'A', 'outbox/x/1', '%41', '日本']) expect(decodeKey(encodeKey(k))).toBe(k);
    expect(decodeKey('README')).toBeUndefined();
    expect(decodeKey('k%4')).toBeUndefined();
  });

  it('refuses too long keys with OPPIE_ERR_STORAGE', async () => {
    const store = new FileStore(root);
    const err = await store.set('Ü'.repeat(MAX_ENCODED_KEY_LENGTH), 'v').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OppieError);
    expect((err as OppieError).code).toBe('OPPIE_ERR_STORAGE');
    expect((err as OppieError).message).toMatch(/too long/);
  });

  it('reports an unusable directory with OPPIE_ERR_STORAGE and the cause', async () => {
    const file = join(root, 'a-file');
    await writeFile(file, 'x');
    const err = (await new FileStore(join(file, 'sub')).get('k').catch((e: unknown) => e)) as OppieError;
    expect(err.code).toBe('OPPIE_ERR_STORAGE');
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOTDIR');
  });
});
