/**
 * Pairing codes in Redis, shared by every relay instance; same semantics as `SqlitePairingStore` (only the lookup id
 * and a hash of the secret are stored; wrong attempts are counted atomically across instances; a code is used once).
 *
 * Keys, for prefix `p` (default `oppie:`); the `{pairing}` hash tag keeps them in one cluster slot:
 * - `p {pairing}:c:<lookupId>` hash: secretHash (hex), accountId, sidecarDeviceId, createdAt, expiresAt, maxAttempts,
 *                              attempts, usedAt ('' while unused). Redis expires it `retentionMs` after `expiresAt`
 *                              (computed with this instance's clock), so an expired code is still told apart from an
 *                              unknown one for a while, and a forgotten clean-up does not leak memory.
 * - `p {pairing}:exp`          sorted set: lookupId -> expiresAt, so `deleteExpired(before)` removes exactly the
 *                              records SQLite's `expires_at < before` would.
 *
 * Every mutation is one Lua script (atomic: racing attempts each get their own count, one claim wins).
 */
import type { Redis } from 'ioredis';
import type { PairingRecord, PairingStore } from '../../auth/stores.js';
import {
  attempt,
  checkNumbers,
  closeClient,
  defineScripts,
  RedisStoreError,
  type RedisStoreOptions,
  redisClient,
} from './client.js';

export interface RedisPairingStoreOptions extends RedisStoreOptions {
  /** How long Redis keeps a record after its `expiresAt` (ms); default 24 h, the relay's pairing retention. */
  readonly retentionMs?: number;
}

const DEFAULT_RETENTION_MS = 24 * 3600 * 1000;

const CREATE = `#!lua
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('ERR pairing ' .. ARGV[1] .. ' exists') end
redis.call('HSET', KEYS[1], 'secretHash', ARGV[2], 'accountId', ARGV[3], 'sidecarDeviceId', ARGV[4],
  'createdAt', ARGV[5], 'expiresAt', ARGV[6], 'maxAttempts', ARGV[7], 'attempts', ARGV[8], 'usedAt', ARGV[9])
redis.call('PEXPIRE', KEYS[1], ARGV[10])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1])
return 1
`;

const FAILED_ATTEMPT = `#!lua
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'attempts', 1)
`;

const MARK_USED = `#!lua
local used = redis.call('HGET', KEYS[1], 'usedAt')
if used == false or used ~= '' then return 0 end
redis.call('HSET', KEYS[1], 'usedAt', ARGV[1])
return 1
`;

const DELETE_EXPIRED = `#!lua
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local n = 0
for _, id in ipairs(ids) do n = n + redis.call('DEL', ARGV[2] .. id) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return n
`;

type Call = (...args: (string | number)[]) => Promise<unknown>;
interface Scripts {
  oppiePairingCreate: Call;
  oppiePairingFailedAttempt: Call;
  oppiePairingMarkUsed: Call;
  oppiePairingDeleteExpired: Call;
}

const SCRIPTS: Record<keyof Scripts, { lua: string; numberOfKeys: number }> = {
  oppiePairingCreate: { lua: CREATE, numberOfKeys: 2 },
  oppiePairingFailedAttempt: { lua: FAILED_ATTEMPT, numberOfKeys: 1 },
  oppiePairingMarkUsed: { lua: MARK_USED, numberOfKeys: 1 },
  oppiePairingDeleteExpired: { lua: DELETE_EXPIRED, numberOfKeys: 1 },
};

/**
 * @example
 * const pairings = new RedisPairingStore({ redis: 'redis://127.0.0.1:6379' });
 * const attempts = await pairings.recordFailedAttempt(lookupId);
 */
export class RedisPairingStore implements PairingStore {
  readonly #redis: Redis;
  readonly #owned: boolean;
  readonly #scripts: Scripts;
  readonly #prefix: string;
  readonly #now: () => number;
  readonly #retentionMs: number;

  constructor(opts: RedisPairingStoreOptions) {
    ({ redis: this.#redis, owned: this.#owned } = redisClient(opts));
    this.#prefix = `${opts.keyPrefix ?? 'oppie:'}{pairing}:`;
    this.#now = opts.now ?? Date.now;
    this.#retentionMs = opts.retentionMs ?? DEFAULT_RETENTION_MS;
    checkNumbers('pairing store', { retentionMs: this.#retentionMs });
    this.#scripts = defineScripts<Scripts>(this.#redis, SCRIPTS);
  }

  #key(lookupId: string): string {
    return `${this.#prefix}c:${lookupId}`;
  }

  async create(r: PairingRecord): Promise<void> {
    const numbers = {
      createdAt: r.createdAt,
      expiresAt: r.expiresAt,
      maxAttempts: r.maxAttempts,
      attempts: r.attempts,
    };
    checkNumbers('pairing create', r.usedAt === null ? numbers : { ...numbers, usedAt: r.usedAt });
    // Kept until `retentionMs` after expiry; at least 1 ms (PEXPIRE refuses 0 and negative lifetimes delete).
    const ttl = Math.max(
      1,
      Math.ceil(Math.min(r.expiresAt + this.#retentionMs - this.#now(), Number.MAX_SAFE_INTEGER)),
    );
    await attempt('pairing create', () =>
      this.#scripts.oppiePairingCreate(
        this.#key(r.lookupId),
        `${this.#prefix}exp`,
        r.lookupId,
        r.secretHash.toString('hex'),
        r.accountId,
        r.sidecarDeviceId,
        String(r.createdAt),
        String(r.expiresAt),
        String(r.maxAttempts),
        String(r.attempts),
        r.usedAt === null ? '' : String(r.usedAt),
        String(ttl),
      ),
    );
  }

  async get(lookupId: string): Promise<PairingRecord | undefined> {
    const h = await attempt('pairing get', () => this.#redis.hgetall(this.#key(lookupId)));
    if (h.secretHash === undefined) return undefined;
    return {
      lookupId,
      secretHash: Buffer.from(h.secretHash, 'hex'),
      accountId: h.accountId ?? '',
      sidecarDeviceId: h.sidecarDeviceId ?? '',
      createdAt: Number(h.createdAt),
      expiresAt: Number(h.expiresAt),
      maxAttempts: Number(h.maxAttempts),
      attempts: Number(h.attempts),
      usedAt: h.usedAt === undefined || h.usedAt === '' ? null : Number(h.usedAt),
    };
  }

  async recordFailedAttempt(lookupId: string): Promise<number> {
    const n = await attempt('pairing recordFailedAttempt', () =>
      this.#scripts.oppiePairingFailedAttempt(this.#key(lookupId)),
    );
    return Number(n);
  }

  async markUsed(lookupId: string, at: number): Promise<boolean> {
    checkNumbers('pairing markUsed', { at });
    const n = await attempt('pairing markUsed', () =>
      this.#scripts.oppiePairingMarkUsed(this.#key(lookupId), String(at)),
    );
    return Number(n) === 1;
  }

  async deleteExpired(before: number): Promise<number> {
    if (Number.isNaN(before)) throw new RedisStoreError('pairing deleteExpired', new Error('before is not a number'));
    const bound =
      before === Number.POSITIVE_INFINITY ? '+inf' : before === Number.NEGATIVE_INFINITY ? '-inf' : String(before);
    const n = await attempt('pairing deleteExpired', () =>
      this.#scripts.oppiePairingDeleteExpired(`${this.#prefix}exp`, bound, `${this.#prefix}c:`),
    );
    return Number(n);
  }

  async close(): Promise<void> {
    await closeClient(this.#redis, this.#owned);
  }
}
