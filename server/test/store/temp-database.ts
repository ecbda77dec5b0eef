import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../src/store/sqlite/index.js';

/** A store on a fresh relay.db in a temp dir; its `close()` closes the database and removes the dir. */
export function onTempDatabase<T extends object>(
  make: (db: ReturnType<typeof openDatabase>) => T,
): T & { close(): Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), 'oppie-store-'));
  const db = openDatabase(dir);
  return Object.assign(make(db), {
    async close() {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
