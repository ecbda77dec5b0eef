/**
 * Operator-issued enrollment tokens in Redis, shared by every relay instance; same semantics as
 * `SqliteEnrollmentStore` (stored by hash; a use is spent atomically, so racing registrations on different instances
 * cannot overspend a token).
 *
 * Keys, for prefix `p` (default `oppie:`); the `{enrollment}` hash tag keeps them in one cluster slot:
 * - `p {enrollment}:t:<tokenHash>` hash: createdAt, expiresAt, uses (the uses left).
 * - `p {enrollment}:exp`           sorted set: tokenHash -> expiresAt, for `deleteExpired`.
 * - `p {enrollment}:spent`         set: hashes of tokens without uses left, which `deleteExpired` drops too.
 *
 * Every mutation is one Lua script.
 */
import type { Redis } from 'ioredis';
import type { EnrollmentRecord, EnrollmentStore } from '../../auth/stores.js';
import {
  attempt,
  checkNumbers,
  closeClient,
  defineScripts,
  RedisStoreError,
  type RedisStoreOptions,
  redisClient,
} from './client.js';

// KEYS: token, exp, spent. ARGV: tokenHash, createdAt, expiresAt, uses.
const CREATE = `#!lua
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'createdAt', ARGV[2], 'expiresAt', ARGV[3], 'uses', ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if tonumber(ARGV[4]) <= 0 then redis.call('SADD', KEYS[3], ARGV[1]) end
return 1
`;

// KEYS: token, spent. ARGV: tokenHash, now.
const CONSUME = `#!lua
local h = redis.call('HMGET', KEYS[1], 'uses', 'expiresAt')
if h[1] == false or tonumber(h[1]) <= 0 or tonumber(h[2]) <= tonumber(ARGV[2]) then return 0 end
if redis.call('HINCRBY', KEYS[1], 'uses', -1) <= 0 then redis.call('SADD', KEYS[2], ARGV[1]) end
return 1
`;

// KEYS: exp, spent. ARGV: before (a ZRANGEBYSCORE bound), token key prefix.
const DELETE_EXPIRED = `#!lua
local hashes = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[2])) do hashes[#hashes + 1] = hash end
local n = 0
for _, hash in ipairs(hashes) do
  n = n + redis.call('DEL', ARGV[2] .. hash)
  redis.call('ZREM', KEYS[1], hash)
end
redis.call('DEL', KEYS[2])
return n
`;

type Call = (...args: (string | number)[]) => Promise<unknown>;
interface Scripts {
  oppieEnrollmentCreate: Call;
  oppieEnrollmentConsume: Call;
  oppieEnrollmentDeleteExpired: Call;
}

const SCRIPTS: Record<keyof Scripts, { lua: string; numberOfKeys: number }> = {
  oppieEnrollmentCreate: { lua: CREATE, numberOfKeys: 3 },
  oppieEnrollmentConsume: { lua: CONSUME, numberOfKeys: 2 },
  oppieEnrollmentDeleteExpired: { lua: DELETE_EXPIRED, numberOfKeys: 2 },
};

/**
 * @example
 * const enrollments = new RedisEnrollmentStore({ redis: 'redis://127.0.0.1:6379' });
 * if (!(await enrollments.consume(hash, Date.now()))) throw new RelayError('RELAY_ERR_ENROLLMENT_INVALID');
 */
export class RedisEnrollmentStore implements EnrollmentStore {
  readonly #redis: Redis;
  readonly #owned: boolean;
  readonly #scripts: Scripts;
  readonly #prefix: string;

  constructor(opts: RedisStoreOptions) {
    ({ redis: this.#redis, owned: this.#owned } = redisClient(opts));
    this.#prefix = `${opts.keyPrefix ?? 'oppie:'}{enrollment}:`;
    this.#scripts = defineScripts<Scripts>(this.#redis, SCRIPTS);
  }

  async create(r: EnrollmentRecord): Promise<void> {
    checkNumbers('enrollment create', { createdAt: r.createdAt, expiresAt: r.expiresAt, uses: r.uses });
    const n = await attempt('enrollment create', () =>
      this.#scripts.oppieEnrollmentCreate(
        `${this.#prefix}t:${r.tokenHash}`,
        `${this.#prefix}exp`,
        `${this.#prefix}spent`,
        r.tokenHash,
        String(r.createdAt),
        String(r.expiresAt),
        String(r.uses),
      ),
    );
    if (Number(n) !== 1) throw new RedisStoreError('enrollment create', new Error('token exists already'));
  }

  async consume(tokenHash: string, now: number): Promise<boolean> {
    if (Number.isNaN(now)) throw new RedisStoreError('enrollment consume', new Error('now is not a number'));
    const n = await attempt('enrollment consume', () =>
      this.#scripts.oppieEnrollmentConsume(
        `${this.#prefix}t:${tokenHash}`,
        `${this.#prefix}spent`,
        tokenHash,
        now === Number.POSITIVE_INFINITY ? 'inf' : now === Number.NEGATIVE_INFINITY ? '-inf' : String(now),
      ),
    );
    return Number(n) === 1;
  }

  async deleteExpired(before: number): Promise<number> {
    if (Number.isNaN(before)) {
      throw new RedisStoreError('enrollment deleteExpired', new Error('before is not a number'));
    }
    const bound =
      before === Number.POSITIVE_INFINITY ? '+inf' : before === Number.NEGATIVE_INFINITY ? '-inf' : String(before);
    const n = await attempt('enrollment deleteExpired', () =>
      this.#scripts.oppieEnrollmentDeleteExpired(
        `${this.#prefix}exp`,
        `${this.#prefix}spent`,
        bound,
        `${this.#prefix}t:`,
      ),
    );
    return Number(n);
  }

  async close(): Promise<void> {
    await closeClient(this.#redis, this.#owned);
  }
}
