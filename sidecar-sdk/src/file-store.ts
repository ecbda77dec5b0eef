import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { type KeyValueStore, OppieError } from '@oppie/client-sdk';
import { sharedRuns } from './shared-runs.js';

/** Longest file name a key may encode to; file systems stop at 255 bytes and temp names need room. */
export const MAX_ENCODED_KEY_LENGTH = 240;

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const TEMP_PREFIX = '.tmp-';

/**
 * Encodes a key into a file name made of `[a-z0-9_-]` and `%xx` escapes (lowercase hex of each UTF-8 byte).
 * Upper-case letters are escaped too, so two keys never collide on a case-insensitive file system (macOS).
 */
export function encodeKey(key: string): string {
  let out = 'k';
  for (const byte of Buffer.from(key, 'utf8')) {
    const safe = (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x30 && byte <= 0x39) || byte === 0x5f || byte === 0x2d;
    out += safe ? String.fromCharCode(byte) : `%${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/** Inverse of {@link encodeKey}; `undefined` for a name this store did not write. */
export function decodeKey(name: string): string | undefined {
  if (!/^k(?:[a-z0-9_-]|%[0-9a-f]{2})*$/.test(name)) return undefined;
  const bytes: number[] = [];
  for (let i = 1; i < name.length; i++) {
    if (name[i] === '%') {
      bytes.push(Number.parseInt(name.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(name.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

function storageError(message: string, cause?: unknown): OppieError {
  return new OppieError('OPPIE_ERR_STORAGE', message, cause === undefined ? undefined : { cause });
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/**
 * A {@link KeyValueStore} over a directory: one file per key, directory mode 0700, files mode 0600.
 * Writes are atomic and durable (temp file, fsync, rename, fsync of the directory), so the outbox and the
 * device keys survive a crash or power loss: a reader sees the old value or the new one, never a partial file.
 *
 * @example
 * const store = new FileStore('/home/me/.oppie-sidecar');
 * await store.set('outbox/peer-1/42', JSON.stringify(frame));
 * await store.keys('outbox/peer-1/'); // ['outbox/peer-1/42']
 */
export class FileStore implements KeyValueStore {
  readonly dir: string;
  private ready: Promise<void> | undefined;
  /**
   * Makes renames and unlinks durable: without a directory sync a crash can bring the old entry back. Writes and
   * deletes in flight together share one (group commit): the outbox deletes every frame a receipt settles at once.
   */
  private readonly syncDir = sharedRuns(async () => {
    if (process.platform === 'win32') return; // directories cannot be opened for fsync there
    const handle = await open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  });

  constructor(dir: string) {
    if (typeof dir !== 'string' || dir === '') throw new TypeError('FileStore: dir must be a non-empty path');
    this.dir = dir;
  }

  /** Directory syncs so far (one per write or delete when they come one at a time, fewer when they overlap). */
  get dirSyncs(): number {
    return this.syncDir.runs;
  }

  async get(key: string): Promise<string | undefined> {
    const file = await this.pathOf(key);
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw storageError(`cannot read key ${JSON.stringify(key)} in ${this.dir}`, err);
    }
  }

  async getBytes(key: string): Promise<Uint8Array | undefined> {
    const file = await this.pathOf(key);
    try {
      const bytes = await readFile(file);
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw storageError(`cannot read key ${JSON.stringify(key)} in ${this.dir}`, err);
    }
  }

  async set(key: string, value: string): Promise<void> {
    if (typeof value !== 'string') throw storageError(`value for key ${JSON.stringify(key)} must be a string`);
    await this.write(key, value);
  }

  /** Stores `value`'s bytes as the key's file, as durably as {@link set}: an outbox frame without its base64url text. */
  async setBytes(key: string, value: Uint8Array): Promise<void> {
    if (!(value instanceof Uint8Array)) throw storageError(`value for key ${JSON.stringify(key)} must be a Uint8Array`);
    await this.write(key, value);
  }

  private async write(key: string, value: string | Uint8Array): Promise<void> {
    const file = await this.pathOf(key);
    const temp = join(this.dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    try {
      const handle = await open(temp, 'wx', FILE_MODE);
      try {
        await (typeof value === 'string' ? handle.writeFile(value, 'utf8') : handle.writeFile(value));
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
      await this.syncDir();
    } catch (err) {
      await unlink(temp).catch(() => undefined); // best effort: the write already failed and is reported below
      throw storageError(`cannot write key ${JSON.stringify(key)} in ${this.dir}`, err);
    }
  }

  async delete(key: string): Promise<void> {
    const file = await this.pathOf(key);
    try {
      await unlink(file);
      await this.syncDir();
    } catch (err) {
      if (isNotFound(err)) return;
      throw storageError(`cannot delete key ${JSON.stringify(key)} in ${this.dir}`, err);
    }
  }

  /**
   * Deletes `keys` in their order, stopping at the first failure, with one directory sync for them all (see
   * `KeyValueStore.deleteInOrder`): unlinks in one directory reach the journal of ext4 or XFS in the order they were
   * made, so after a crash the keys gone are a prefix of `keys`. The outbox deletes the frames a receipt settles with
   * it: one at a time with a sync each, a receipt's deletes took longer than the frames' writes (bench/RESULTS.md,
   * 2026-12-03).
   */
  async deleteInOrder(keys: readonly string[]): Promise<{ deleted: number; error?: unknown }> {
    let deleted = 0;
    let error: unknown;
    for (const key of keys) {
      try {
        await unlink(await this.pathOf(key));
      } catch (err) {
        if (!isNotFound(err)) {
          error = storageError(`cannot delete key ${JSON.stringify(key)} in ${this.dir}`, err);
          break;
        }
      }
      deleted += 1;
    }
    if (deleted === 0) return { deleted, error };
    try {
      await this.syncDir();
    } catch (err) {
      // Which of them a crash would bring back is unknown: none counts as gone (deleting them again is harmless).
      return { deleted: 0, error: storageError(`cannot sync ${this.dir}`, err) };
    }
    return error === undefined ? { deleted } : { deleted, error };
  }

  async keys(prefix: string): Promise<string[]> {
    await this.ensureDir();
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      throw storageError(`cannot list ${this.dir}`, err);
    }
    const keys: string[] = [];
    // Temp files and foreign files do not decode and are not keys.
    for (const name of names) {
      const key = decodeKey(name);
      if (key?.startsWith(prefix)) keys.push(key);
    }
    return keys;
  }

  private async pathOf(key: string): Promise<string> {
    if (typeof key !== 'string') throw storageError('key must be a string');
    const name = encodeKey(key);
    if (name.length > MAX_ENCODED_KEY_LENGTH) {
      throw storageError(
        `key is too long (${name.length} > ${MAX_ENCODED_KEY_LENGTH} once encoded): ${key.slice(0, 40)}`,
      );
    }
    await this.ensureDir();
    return join(this.dir, name);
  }

  private ensureDir(): Promise<void> {
    this.ready ??= (async () => {
      try {
        await mkdir(this.dir, { recursive: true, mode: DIR_MODE });
        await chmod(this.dir, DIR_MODE); // an existing directory may be looser than 0700
      } catch (err) {
        this.ready = undefined; // let a later call retry (for example after the caller fixes permissions)
        throw storageError(`cannot create storage directory ${this.dir}`, err);
      }
    })();
    return this.ready;
  }
}
