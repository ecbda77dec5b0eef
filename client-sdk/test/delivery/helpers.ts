import { expect } from 'vitest';
import { OppieError, type SdkErrorCode } from '../../src/errors.js';
import { type KeyValueStore, MemoryStore } from '../../src/platform.js';

/** Asserts that `p` rejects with an OppieError carrying `code`. */
export async function rejectsWith(p: Promise<unknown>, code: SdkErrorCode): Promise<OppieError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OppieError);
  expect((err as OppieError).code).toBe(code);
  return err as OppieError;
}

/** A MemoryStore whose writes can be made to fail, to check that state stays consistent. */
export class FlakyStore extends MemoryStore {
  failWrites = false;
  override async set(key: string, value: string) {
    if (this.failWrites) throw new Error('disk full');
    return super.set(key, value);
  }
  override async setBytes(key: string, value: Uint8Array) {
    if (this.failWrites) throw new Error('disk full');
    return super.setBytes(key, value);
  }
  override async delete(key: string) {
    if (this.failWrites) throw new Error('disk full');
    return super.delete(key);
  }
}

/** A store of text only: a MemoryStore without the bytes pair, as a store written for an older SDK is. */
export function textOnlyStore(store = new MemoryStore()): KeyValueStore {
  return {
    get: (key) => store.get(key),
    set: (key, value) => store.set(key, value),
    delete: (key) => store.delete(key),
    keys: (prefix) => store.keys(prefix),
  };
}
