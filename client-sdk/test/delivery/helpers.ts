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

/** A MemoryStore whose delete of one key (`bad`) fails. */
export class BadKeyStore extends MemoryStore {
  bad = '';
  override async delete(key: string) {
    if (key === this.bad) throw new Error('EIO');
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

/** A MemoryStore that holds its writes or its deletes of entries (`held`) until `resume()`; counters go through. */
export class HeldStore extends MemoryStore {
  held: 'write' | 'delete' | undefined;
  waiting: Array<() => void> = [];

  resume(): void {
    this.held = undefined;
    for (const go of this.waiting.splice(0)) go();
  }

  private async gate(kind: 'write' | 'delete', key: string): Promise<void> {
    if (this.held === kind && key.startsWith('outbox/e/')) await new Promise<void>((go) => this.waiting.push(go));
  }

  override async set(key: string, value: string) {
    await this.gate('write', key);
    return super.set(key, value);
  }

  override async setBytes(key: string, value: Uint8Array) {
    await this.gate('write', key);
    return super.setBytes(key, value);
  }

  override async delete(key: string) {
    await this.gate('delete', key);
    return super.delete(key);
  }
}

/** Lets `ms` of timers go by (time for anything not held to happen). */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits (a macrotask at a time, at most a second) until `ready()`. */
export async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ready(); i++) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(ready()).toBe(true);
}
