import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DATABASE_FILE, openDatabase } from '../../src/store/sqlite/index.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('openDatabase', () => {
  it('creates relay.db with mode 0600, WAL and the current schema; reopening is a no-op', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oppie-db-'));
    dirs.push(dir);
    const db = openDatabase(join(dir, 'nested'));
    expect(statSync(join(dir, 'nested', DATABASE_FILE)).mode & 0o777).toBe(0o600);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    db.prepare("INSERT INTO accounts (id, created_at) VALUES ('a', 1)").run();
    db.close();
    const again = openDatabase(join(dir, 'nested'));
    expect(again.prepare('SELECT count(*) AS n FROM accounts').get()).toEqual({ n: 1 });
    again.close();
  });

  it('refuses a file from a newer relay', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oppie-db-'));
    dirs.push(dir);
    const db = openDatabase(dir);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => openDatabase(dir)).toThrow(/newer than this relay/);
  });
});
