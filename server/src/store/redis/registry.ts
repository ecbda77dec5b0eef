/**
 * Accounts, devices and OTP state in Redis, shared by every relay instance; same semantics as `SqliteRegistry`
 * (a device id and a public key are stored once; a revocation is seen by every instance through `revokedSince`;
 * a TOTP time step is accepted once, even by racing requests on different instances).
 *
 * Keys, for prefix `p` (default `oppie:`); the `{registry}` hash tag keeps them in one cluster slot:
 * - `p {registry}:a:<accountId>`  hash: createdAt, otpSecret, otpConfirmedAt, otpLastCounter (absent while null).
 * - `p {registry}:d:<deviceId>`   hash: accountId, role, name, publicKey, createdAt, lastSeenAt, revokedAt
 *                                 (absent while null).
 * - `p {registry}:pk:<publicKey>` string: the device id holding the key (the UNIQUE index of SQLite).
 * - `p {registry}:ad:<accountId>` sorted set: the account's unrevoked device ids -> createdAt (ties ordered by id,
 *                                 bytewise, like SQLite's ORDER BY created_at, id).
 * - `p {registry}:revoked`        sorted set: revoked device id -> revokedAt, for `revokedSince`.
 *
 * Every change that touches several keys, or checks before it writes, is one Lua script.
 */
import { RelayError } from '@oppie/protocol';
import type { Redis } from 'ioredis';
import type { NewDevice, OtpState, Registry } from '../../auth/stores.js';
import type { DeviceRecord } from '../../auth/types.js';
import {
  attempt,
  checkNumbers,
  closeClient,
  defineScripts,
  RedisStoreError,
  type RedisStoreOptions,
  redisClient,
} from './client.js';

// KEYS: account, device, pk, account devices. ARGV: accountId, deviceId, role, name, publicKey, createdAt,
// createAccount ('1' creates the account, '0' requires it). Returns 1, or 0 when a key exists, -1 without account.
const ADD_DEVICE = `#!lua
if ARGV[7] == '1' then
  if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
elseif redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
if ARGV[7] == '1' then redis.call('HSET', KEYS[1], 'createdAt', ARGV[6]) end
redis.call('HSET', KEYS[2], 'accountId', ARGV[1], 'role', ARGV[3], 'name', ARGV[4], 'publicKey', ARGV[5],
  'createdAt', ARGV[6])
redis.call('SET', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[6], ARGV[2])
return 1
`;

const LIST_DEVICES = `#!lua
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. 'd:' .. id)
end
return out
`;

// KEYS: device, revoked. ARGV: deviceId, at, prefix.
const REVOKE = `#!lua
local h = redis.call('HMGET', KEYS[1], 'accountId', 'revokedAt')
if h[1] == false or h[2] ~= false then return 0 end
redis.call('HSET', KEYS[1], 'revokedAt', ARGV[2])
redis.call('ZREM', ARGV[3] .. 'ad:' .. h[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
`;

const TOUCH = `#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'lastSeenAt', ARGV[1])
return 1
`;

const SET_PENDING_OTP = `#!lua
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'otpConfirmedAt') == 1 then return 0 end
redis.call('HSET', KEYS[1], 'otpSecret', ARGV[1])
redis.call('HDEL', KEYS[1], 'otpLastCounter')
return 1
`;

// The replay guard: a time step passes once, only if newer than the last accepted one.
const ACCEPT_OTP = `#!lua
local h = redis.call('HMGET', KEYS[1], 'otpSecret', 'otpLastCounter', 'otpConfirmedAt')
if h[1] == false then return 0 end
if h[2] ~= false and tonumber(h[2]) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'otpLastCounter', ARGV[1])
if h[3] == false then redis.call('HSET', KEYS[1], 'otpConfirmedAt', ARGV[2]) end
return 1
`;

type Call = (...args: (string | number)[]) => Promise<unknown>;
interface Scripts {
  oppieRegistryAddDevice: Call;
  oppieRegistryListDevices: Call;
  oppieRegistryRevoke: Call;
  oppieRegistryTouch: Call;
  oppieRegistrySetPendingOtp: Call;
  oppieRegistryAcceptOtp: Call;
}

const SCRIPTS: Record<keyof Scripts, { lua: string; numberOfKeys: number }> = {
  oppieRegistryAddDevice: { lua: ADD_DEVICE, numberOfKeys: 4 },
  oppieRegistryListDevices: { lua: LIST_DEVICES, numberOfKeys: 1 },
  oppieRegistryRevoke: { lua: REVOKE, numberOfKeys: 2 },
  oppieRegistryTouch: { lua: TOUCH, numberOfKeys: 1 },
  oppieRegistrySetPendingOtp: { lua: SET_PENDING_OTP, numberOfKeys: 1 },
  oppieRegistryAcceptOtp: { lua: ACCEPT_OTP, numberOfKeys: 1 },
};

function toDevice(id: string, h: Record<string, string>): DeviceRecord | undefined {
  if (h.accountId === undefined) return undefined;
  return {
    id,
    accountId: h.accountId,
    role: h.role as DeviceRecord['role'],
    name: h.name ?? '',
    publicKey: h.publicKey ?? '',
    createdAt: Number(h.createdAt),
    lastSeenAt: h.lastSeenAt === undefined ? null : Number(h.lastSeenAt),
    revokedAt: h.revokedAt === undefined ? null : Number(h.revokedAt),
  };
}

/**
 * @example
 * const registry = new RedisRegistry({ redis: 'redis://127.0.0.1:6379' });
 * await registry.revokeDevice(deviceId, Date.now());
 */
export class RedisRegistry implements Registry {
  readonly #redis: Redis;
  readonly #owned: boolean;
  readonly #scripts: Scripts;
  readonly #prefix: string;

  constructor(opts: RedisStoreOptions) {
    ({ redis: this.#redis, owned: this.#owned } = redisClient(opts));
    this.#prefix = `${opts.keyPrefix ?? 'oppie:'}{registry}:`;
    this.#scripts = defineScripts<Scripts>(this.#redis, SCRIPTS);
  }

  #account(accountId: string): string {
    return `${this.#prefix}a:${accountId}`;
  }

  #device(deviceId: string): string {
    return `${this.#prefix}d:${deviceId}`;
  }

  async #add(op: string, accountId: string, device: NewDevice, createAccount: boolean): Promise<void> {
    checkNumbers(op, { createdAt: device.createdAt });
    const res = await attempt(op, () =>
      this.#scripts.oppieRegistryAddDevice(
        this.#account(accountId),
        this.#device(device.id),
        `${this.#prefix}pk:${device.publicKey}`,
        `${this.#prefix}ad:${accountId}`,
        accountId,
        device.id,
        device.role,
        device.name,
        device.publicKey,
        String(device.createdAt),
        createAccount ? '1' : '0',
      ),
    );
    const n = Number(res);
    if (n === 0) throw new RelayError('RELAY_ERR_DEVICE_EXISTS');
    if (n !== 1) throw new RedisStoreError(op, new Error(`account ${accountId} does not exist`));
  }

  async createAccount(accountId: string, device: NewDevice): Promise<void> {
    await this.#add('registry createAccount', accountId, device, true);
  }

  async addDevice(device: NewDevice): Promise<void> {
    await this.#add('registry addDevice', device.accountId, device, false);
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    const h = await attempt('registry getDevice', () => this.#redis.hgetall(this.#device(deviceId)));
    return toDevice(deviceId, h);
  }

  async listDevices(accountId: string): Promise<DeviceRecord[]> {
    const raw = (await attempt('registry listDevices', () =>
      this.#scripts.oppieRegistryListDevices(`${this.#prefix}ad:${accountId}`, this.#prefix),
    )) as unknown[];
    const devices: DeviceRecord[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const fields = raw[i + 1] as string[];
      const h: Record<string, string> = {};
      for (let j = 0; j + 1 < fields.length; j += 2) h[fields[j] as string] = fields[j + 1] as string;
      const d = toDevice(String(raw[i]), h);
      if (d) devices.push(d);
    }
    return devices;
  }

  async revokeDevice(deviceId: string, at: number): Promise<boolean> {
    checkNumbers('registry revokeDevice', { at });
    const n = await attempt('registry revokeDevice', () =>
      this.#scripts.oppieRegistryRevoke(
        this.#device(deviceId),
        `${this.#prefix}revoked`,
        deviceId,
        String(at),
        this.#prefix,
      ),
    );
    return Number(n) === 1;
  }

  async revokedSince(since: number): Promise<Array<{ deviceId: string; revokedAt: number }>> {
    if (Number.isNaN(since)) throw new RedisStoreError('registry revokedSince', new Error('since is not a number'));
    const bound =
      since === Number.POSITIVE_INFINITY ? '+inf' : since === Number.NEGATIVE_INFINITY ? '-inf' : String(since);
    const flat = await attempt('registry revokedSince', () =>
      this.#redis.zrangebyscore(`${this.#prefix}revoked`, bound, '+inf', 'WITHSCORES'),
    );
    const out: Array<{ deviceId: string; revokedAt: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      out.push({ deviceId: flat[i] as string, revokedAt: Number(flat[i + 1]) });
    }
    return out;
  }

  async touchDevice(deviceId: string, at: number): Promise<void> {
    checkNumbers('registry touchDevice', { at });
    await attempt('registry touchDevice', () => this.#scripts.oppieRegistryTouch(this.#device(deviceId), String(at)));
  }

  async getOtp(accountId: string): Promise<OtpState | undefined> {
    const [secret, confirmedAt, lastCounter] = await attempt('registry getOtp', () =>
      this.#redis.hmget(this.#account(accountId), 'otpSecret', 'otpConfirmedAt', 'otpLastCounter'),
    );
    if (secret === null || secret === undefined) return undefined;
    return {
      secret,
      confirmedAt: confirmedAt == null ? null : Number(confirmedAt),
      lastCounter: lastCounter == null ? null : Number(lastCounter),
    };
  }

  async setPendingOtp(accountId: string, secret: string): Promise<boolean> {
    const n = await attempt('registry setPendingOtp', () =>
      this.#scripts.oppieRegistrySetPendingOtp(this.#account(accountId), secret),
    );
    return Number(n) === 1;
  }

  async acceptOtpCounter(accountId: string, counter: number, at: number): Promise<boolean> {
    checkNumbers('registry acceptOtpCounter', { counter, at });
    const n = await attempt('registry acceptOtpCounter', () =>
      this.#scripts.oppieRegistryAcceptOtp(this.#account(accountId), String(counter), String(at)),
    );
    return Number(n) === 1;
  }

  async ping(): Promise<void> {
    await attempt('registry ping', () => this.#redis.ping());
  }

  async close(): Promise<void> {
    await closeClient(this.#redis, this.#owned);
  }
}
