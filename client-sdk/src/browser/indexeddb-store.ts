/// <reference lib="dom" />
/**
 * Browser storage for the SDK: one IndexedDB object store of string keys, and string or byte values. Keys, tokens,
 * pairings, the outbox and the inbox all live here, so they survive a reload, a closed tab and a restarted browser.
 */
import { OppieError } from '../errors.js';
import type { KeyValueStore, Platform } from '../platform.js';

export interface IndexedDbStoreOptions {
  /** Database name; one per client identity. Default `'oppie'`. */
  readonly dbName?: string;
  /** Object store name inside the database. Default `'kv'`. */
  readonly storeName?: string;
  /** The IndexedDB factory; default `globalThis.indexedDB` (inject one in tests or workers). */
  readonly indexedDB?: IDBFactory;
}

const DB_VERSION = 1;
const utf8 = { encoder: new TextEncoder(), decoder: new TextDecoder('utf-8', { ignoreBOM: true }) };

/**
 * A {@link KeyValueStore} on IndexedDB. The database opens on first use; every failure (quota, a blocked or closed
 * database, private mode without IndexedDB) rejects with `OPPIE_ERR_STORAGE`, the DOMException as `cause`.
 * A write resolves when its transaction completed, so what the SDK persisted is there after a reload.
 *
 * @example
 * const storage = new IndexedDbStore({ dbName: 'oppie' });
 * const client = await OppieClient.create({ relayUrl, role: 'pwa', name: 'phone', platform: { storage } });
 */
export class IndexedDbStore implements KeyValueStore {
  readonly dbName: string;
  readonly storeName: string;
  private readonly factory: IDBFactory | undefined;
  private opening: Promise<IDBDatabase> | undefined;

  constructor(opts: IndexedDbStoreOptions = {}) {
    this.dbName = opts.dbName ?? 'oppie';
    this.storeName = opts.storeName ?? 'kv';
    this.factory = opts.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  }

  async get(key: string): Promise<string | undefined> {
    const value = await this.request('readonly', `reading "${key}"`, (s) => s.get(key));
    if (value === undefined || typeof value === 'string') return value;
    if (value instanceof Uint8Array) return utf8.decoder.decode(value);
    throw new OppieError('OPPIE_ERR_STORAGE', `IndexedDB holds a value of another kind under "${key}"`);
  }

  async set(key: string, value: string): Promise<void> {
    await this.request('readwrite', `writing "${key}"`, (s) => s.put(value, key));
  }

  /** The bytes under `key` (a string value: its UTF-8 bytes); IndexedDB's structured clone makes them ours. */
  async getBytes(key: string): Promise<Uint8Array | undefined> {
    const value = await this.request('readonly', `reading "${key}"`, (s) => s.get(key));
    if (value === undefined || value instanceof Uint8Array) return value;
    if (typeof value === 'string') return utf8.encoder.encode(value);
    throw new OppieError('OPPIE_ERR_STORAGE', `IndexedDB holds a value of another kind under "${key}"`);
  }

  /** Stores `value`'s bytes (a structured clone: a copy, which the caller's later writes do not reach). */
  async setBytes(key: string, value: Uint8Array): Promise<void> {
    // A clone of a view takes its whole buffer along: store just the view's bytes.
    const whole = value.byteOffset === 0 && value.byteLength === value.buffer.byteLength;
    const own = whole ? value : value.slice();
    await this.request('readwrite', `writing "${key}"`, (s) => s.put(own, key));
  }

  async delete(key: string): Promise<void> {
    await this.request('readwrite', `deleting "${key}"`, (s) => s.delete(key));
  }

  async keys(prefix: string): Promise<string[]> {
    const keys = await this.request('readonly', `listing "${prefix}*"`, (s) => s.getAllKeys(prefixRange(prefix)));
    return keys.filter((k): k is string => typeof k === 'string');
  }

  /** Closes the database; the next call opens it again. */
  close(): void {
    const opening = this.opening;
    this.opening = undefined;
    opening?.then((db) => db.close()).catch(() => undefined);
  }

  /**
   * Runs one request in its own transaction and resolves with its result once the transaction completed (for a
   * write: durably committed). A database closed under us (version change, storage cleared) is reopened once.
   */
  private async request<T>(
    mode: IDBTransactionMode,
    what: string,
    make: (store: IDBObjectStore) => IDBRequest<T>,
    retried = false,
  ): Promise<T> {
    const db = await this.open();
    let tx: IDBTransaction;
    try {
      tx = db.transaction(this.storeName, mode);
    } catch (cause) {
      // InvalidStateError: the connection was closed (versionchange, the browser dropped it). Reopen once.
      this.opening = undefined;
      if (!retried && cause instanceof DOMException && cause.name === 'InvalidStateError')
        return this.request(mode, what, make, true);
      throw storageError(what, cause);
    }
    return new Promise<T>((resolve, reject) => {
      let result: T;
      const req = make(tx.objectStore(this.storeName));
      req.onsuccess = () => {
        result = req.result;
      };
      tx.oncomplete = () => resolve(result);
      // A failed request aborts its transaction; both report the same error, and the abort settles the promise.
      tx.onabort = () => reject(storageError(what, tx.error ?? req.error));
    });
  }

  private open(): Promise<IDBDatabase> {
    if (this.opening !== undefined) return this.opening;
    const factory = this.factory;
    const opening = new Promise<IDBDatabase>((resolve, reject) => {
      if (factory === undefined) {
        reject(new OppieError('OPPIE_ERR_STORAGE', 'IndexedDB is not available here: pass platform.storage'));
        return;
      }
      const what = `opening IndexedDB "${this.dbName}"`;
      let req: IDBOpenDBRequest;
      try {
        req = factory.open(this.dbName, DB_VERSION);
      } catch (cause) {
        reject(storageError(what, cause));
        return;
      }
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(this.storeName)) req.result.createObjectStore(this.storeName);
      };
      req.onsuccess = () => {
        const db = req.result;
        // Let another tab upgrade the schema instead of blocking it; this store reopens on its next call.
        db.onversionchange = () => {
          db.close();
          if (this.opening === opening) this.opening = undefined;
        };
        db.onclose = () => {
          if (this.opening === opening) this.opening = undefined;
        };
        resolve(db);
      };
      req.onerror = () => reject(storageError(what, req.error));
      req.onblocked = () =>
        reject(new OppieError('OPPIE_ERR_STORAGE', `${what}: blocked by another tab holding an older version`));
    });
    this.opening = opening;
    // A failed open is not cached: the next call tries again (the user may have freed space or closed a tab).
    opening.catch(() => {
      if (this.opening === opening) this.opening = undefined;
    });
    return opening;
  }
}

function storageError(what: string, cause: unknown): OppieError {
  const name = cause instanceof DOMException ? `${cause.name}: ${cause.message}` : String(cause);
  return new OppieError('OPPIE_ERR_STORAGE', `IndexedDB failed while ${what} (${name})`, { cause });
}

/**
 * The key range holding exactly the strings that start with `prefix`: [prefix, successor) where the successor is
 * the prefix with its last UTF-16 code unit raised by one (trailing U+FFFF units dropped first).
 */
export function prefixRange(prefix: string): IDBKeyRange | undefined {
  if (prefix === '') return undefined;
  let end = prefix;
  while (end.length > 0 && end.charCodeAt(end.length - 1) === 0xffff) end = end.slice(0, -1);
  if (end === '') return IDBKeyRange.lowerBound(prefix);
  const upper = end.slice(0, -1) + String.fromCharCode(end.charCodeAt(end.length - 1) + 1);
  return IDBKeyRange.bound(prefix, upper, false, true);
}

/**
 * The browser's platform pieces: IndexedDB storage. WebSocket, fetch and timers come from `globalThis` by default.
 *
 * @example
 * const client = await OppieClient.create({ relayUrl, role: 'pwa', name: 'phone', platform: browserPlatform() });
 */
export function browserPlatform(opts: { dbName?: string } = {}): Partial<Platform> {
  return { storage: new IndexedDbStore(opts.dbName === undefined ? {} : { dbName: opts.dbName }) };
}
