/**
 * Diff bodies (`unified`, possibly several MB) in their own IndexedDB database, keyed by diffId, so a reload can
 * show a diff again without the sidecar resending it. Kept apart from the SDK's database. What is kept is decided by
 * the model with diff-budget.ts; this module only stores, reads and deletes.
 */
const DB = 'oppie-pwa-diffs';
const STORE = 'diffs';

let opening: Promise<IDBDatabase> | undefined;

function open(): Promise<IDBDatabase> {
  opening ??= new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  opening.catch(() => {
    opening = undefined;
  });
  return opening;
}

function run<T>(mode: IDBTransactionMode, make: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  return open().then(
    (db) =>
      new Promise<T>((resolve, reject) => {
        const tx = db.transaction(STORE, mode);
        const req = make(tx.objectStore(STORE));
        tx.oncomplete = () => resolve(req.result);
        tx.onabort = () => reject(tx.error ?? req.error);
      }),
  );
}

export function putDiffBody(diffId: string, unified: string): Promise<void> {
  return run('readwrite', (s) => s.put(unified, diffId)).then(() => undefined);
}

export function deleteDiffBody(diffId: string): Promise<void> {
  return run('readwrite', (s) => s.delete(diffId)).then(() => undefined);
}

/** Deletes several bodies in one transaction. */
export function deleteDiffBodies(diffIds: readonly string[]): Promise<void> {
  if (diffIds.length === 0) return Promise.resolve();
  return open().then(
    (db) =>
      new Promise<void>((resolve, reject) => {
        const tx = db.transaction(STORE, 'readwrite');
        const store = tx.objectStore(STORE);
        for (const id of diffIds) store.delete(id);
        tx.oncomplete = () => resolve();
        tx.onabort = () => reject(tx.error);
      }),
  );
}

/** The diffIds with a stored body. */
export async function storedDiffIds(): Promise<string[]> {
  const keys = await run('readonly', (s) => s.getAllKeys());
  return keys.filter((k): k is string => typeof k === 'string');
}

export async function getDiffBody(diffId: string): Promise<string | undefined> {
  const v = await run('readonly', (s) => s.get(diffId));
  return typeof v === 'string' ? v : undefined;
}

export function clearDiffBodies(): Promise<void> {
  return run('readwrite', (s) => s.clear()).then(() => undefined);
}
