import { RelayError, type RoleName } from '@oppie/protocol';
import type { NewDevice, OtpState, Registry } from '../../auth/stores.js';
import type { DeviceRecord } from '../../auth/types.js';
import type { Database } from './database.js';

interface DeviceRow {
  id: string;
  account_id: string;
  role: string;
  name: string;
  public_key: string;
  created_at: number;
  last_seen_at: number | null;
  revoked_at: number | null;
}

const toDevice = (r: DeviceRow): DeviceRecord => ({
  id: r.id,
  accountId: r.account_id,
  role: r.role as RoleName,
  name: r.name,
  publicKey: r.public_key,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  revokedAt: r.revoked_at,
});

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * The account and device registry on SQLite.
 *
 * @example
 * const registry = new SqliteRegistry(openDatabase(dataDir));
 * await registry.getDevice(deviceId);
 */
export class SqliteRegistry implements Registry {
  readonly #db: Database;
  readonly #insertAccount;
  readonly #insertDevice;
  readonly #getDevice;
  readonly #listDevices;
  readonly #revoke;
  readonly #revokedSince;
  readonly #touch;
  readonly #getOtp;
  readonly #setPendingOtp;
  readonly #acceptOtp;

  constructor(db: Database) {
    this.#db = db;
    this.#insertAccount = db.prepare('INSERT INTO accounts (id, created_at) VALUES (?, ?)');
    this.#insertDevice = db.prepare(
      `INSERT INTO devices (id, account_id, role, name, public_key, created_at)
       VALUES (@id, @accountId, @role, @name, @publicKey, @createdAt)`,
    );
    this.#getDevice = db.prepare<[string], DeviceRow>('SELECT * FROM devices WHERE id = ?');
    this.#listDevices = db.prepare<[string], DeviceRow>(
      'SELECT * FROM devices WHERE account_id = ? AND revoked_at IS NULL ORDER BY created_at, id',
    );
    this.#revoke = db.prepare('UPDATE devices SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
    this.#revokedSince = db.prepare<[number], { id: string; revoked_at: number }>(
      'SELECT id, revoked_at FROM devices WHERE revoked_at >= ? ORDER BY revoked_at',
    );
    this.#touch = db.prepare('UPDATE devices SET last_seen_at = ? WHERE id = ?');
    this.#getOtp = db.prepare<
      [string],
      { otp_secret: string | null; otp_confirmed_at: number | null; otp_last_counter: number | null }
    >('SELECT otp_secret, otp_confirmed_at, otp_last_counter FROM accounts WHERE id = ?');
    this.#setPendingOtp = db.prepare(
      `UPDATE accounts SET otp_secret = ?, otp_last_counter = NULL
       WHERE id = ? AND otp_confirmed_at IS NULL`,
    );
    // The WHERE clause is the replay guard: a time step is accepted once, even by two racing requests.
    this.#acceptOtp = db.prepare(
      `UPDATE accounts SET otp_last_counter = @counter, otp_confirmed_at = COALESCE(otp_confirmed_at, @at)
       WHERE id = @accountId AND otp_secret IS NOT NULL
         AND (otp_last_counter IS NULL OR otp_last_counter < @counter)`,
    );
  }

  async createAccount(accountId: string, device: NewDevice): Promise<void> {
    try {
      this.#db.transaction(() => {
        this.#insertAccount.run(accountId, device.createdAt);
        this.#insertDevice.run({ ...device, accountId });
      })();
    } catch (err) {
      if (isUniqueViolation(err)) throw new RelayError('RELAY_ERR_DEVICE_EXISTS', undefined, { cause: err });
      throw err;
    }
  }

  async addDevice(device: NewDevice): Promise<void> {
    try {
      this.#insertDevice.run(device);
    } catch (err) {
      if (isUniqueViolation(err)) throw new RelayError('RELAY_ERR_DEVICE_EXISTS', undefined, { cause: err });
      throw err;
    }
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    const row = this.#getDevice.get(deviceId);
    return row && toDevice(row);
  }

  async listDevices(accountId: string): Promise<DeviceRecord[]> {
    return this.#listDevices.all(accountId).map(toDevice);
  }

  async revokeDevice(deviceId: string, at: number): Promise<boolean> {
    return this.#revoke.run(at, deviceId).changes === 1;
  }

  async revokedSince(since: number): Promise<Array<{ deviceId: string; revokedAt: number }>> {
    return this.#revokedSince.all(since).map((r) => ({ deviceId: r.id, revokedAt: r.revoked_at }));
  }

  async touchDevice(deviceId: string, at: number): Promise<void> {
    this.#touch.run(at, deviceId);
  }

  async getOtp(accountId: string): Promise<OtpState | undefined> {
    const row = this.#getOtp.get(accountId);
    if (!row || row.otp_secret === null) return undefined;
    return { secret: row.otp_secret, confirmedAt: row.otp_confirmed_at, lastCounter: row.otp_last_counter };
  }

  async setPendingOtp(accountId: string, secret: string): Promise<boolean> {
    return this.#setPendingOtp.run(secret, accountId).changes === 1;
  }

  async acceptOtpCounter(accountId: string, counter: number, at: number): Promise<boolean> {
    return this.#acceptOtp.run({ accountId, counter, at }).changes === 1;
  }

  async ping(): Promise<void> {
    this.#db.prepare('SELECT 1').get();
  }
}
