/**
 * Token signing keys in Redis, shared by every relay instance; same semantics as `SqliteSigningKeyStore` (exactly
 * one active key; a rotation retires the previous one, which keeps verifying until its `verifyUntil`).
 *
 * Keys, for prefix `p` (default `oppie:`); the `{signing}` hash tag keeps them in one cluster slot:
 * - `p {signing}:k:<kid>` hash: publicPem, privatePem (absent for a verify-only key), createdAt, active ('1'/'0'),
 *                         verifyUntil (absent while active).
 * - `p {signing}:all`     set of every stored kid.
 * - `p {signing}:active`  string: the kid of the active key.
 * - `p {signing}:retire`  sorted set: kid -> verifyUntil of the retired keys, for `deleteExpired`.
 *
 * `activate` and `deleteExpired` are one Lua script each, and `list` reads every key in one script, so no reader
 * ever sees two active keys or none in the middle of a rotation.
 */
import type { Redis } from 'ioredis';
import type { SigningKeyStore, StoredSigningKey } from '../../auth/stores.js';
import {
  attempt,
  checkNumbers,
  closeClient,
  defineScripts,
  RedisStoreError,
  type RedisStoreOptions,
  redisClient,
} from './client.js';

const ACTIVATE = `#!lua
local p = ARGV[1]
local kid = ARGV[2]
if redis.call('EXISTS', p .. 'k:' .. kid) == 1 then return 0 end
local prev = redis.call('GET', KEYS[1])
if prev then
  redis.call('HSET', p .. 'k:' .. prev, 'active', '0', 'verifyUntil', ARGV[6])
  redis.call('ZADD', KEYS[3], ARGV[6], prev)
end
local key = p .. 'k:' .. kid
redis.call('HSET', key, 'publicPem', ARGV[3], 'createdAt', ARGV[4], 'active', '1')
if ARGV[5] == '1' then redis.call('HSET', key, 'privatePem', ARGV[7]) end
redis.call('SADD', KEYS[2], kid)
redis.call('SET', KEYS[1], kid)
return 1
`;

const LIST = `#!lua
local out = {}
for _, kid in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  out[#out + 1] = kid
  out[#out + 1] = redis.call('HGETALL', ARGV[1] .. 'k:' .. kid)
end
return out
`;

const DELETE_EXPIRED = `#!lua
local kids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, kid in ipairs(kids) do
  redis.call('DEL', ARGV[2] .. 'k:' .. kid)
  redis.call('SREM', KEYS[2], kid)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return kids
`;

type Call = (...args: (string | number)[]) => Promise<unknown>;
interface Scripts {
  oppieSigningActivate: Call;
  oppieSigningList: Call;
  oppieSigningDeleteExpired: Call;
}

const SCRIPTS: Record<keyof Scripts, { lua: string; numberOfKeys: number }> = {
  oppieSigningActivate: { lua: ACTIVATE, numberOfKeys: 3 },
  oppieSigningList: { lua: LIST, numberOfKeys: 1 },
  oppieSigningDeleteExpired: { lua: DELETE_EXPIRED, numberOfKeys: 2 },
};

/**
 * @example
 * const keys = new RedisSigningKeyStore({ redis: 'redis://127.0.0.1:6379' });
 * const ring = await KeyRing.load({ store: keys, config, now });
 */
export class RedisSigningKeyStore implements SigningKeyStore {
  readonly #redis: Redis;
  readonly #owned: boolean;
  readonly #scripts: Scripts;
  readonly #prefix: string;

  constructor(opts: RedisStoreOptions) {
    ({ redis: this.#redis, owned: this.#owned } = redisClient(opts));
    this.#prefix = `${opts.keyPrefix ?? 'oppie:'}{signing}:`;
    this.#scripts = defineScripts<Scripts>(this.#redis, SCRIPTS);
  }

  async list(): Promise<StoredSigningKey[]> {
    const raw = (await attempt('signing keys list', () =>
      this.#scripts.oppieSigningList(`${this.#prefix}all`, this.#prefix),
    )) as unknown[];
    const keys: StoredSigningKey[] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const fields = raw[i + 1] as string[];
      const h: Record<string, string> = {};
      for (let j = 0; j + 1 < fields.length; j += 2) h[fields[j] as string] = fields[j + 1] as string;
      // A kid whose hash is gone (never happens through this store) is skipped rather than returned half-empty.
      if (h.publicPem === undefined) continue;
      keys.push({
        kid: String(raw[i]),
        privatePem: h.privatePem ?? null,
        publicPem: h.publicPem,
        createdAt: Number(h.createdAt),
        active: h.active === '1',
        verifyUntil: h.verifyUntil === undefined ? null : Number(h.verifyUntil),
      });
    }
    // SQLite's ORDER BY created_at, kid (kids compared bytewise, like its BINARY collation).
    return keys.sort((a, b) => a.createdAt - b.createdAt || Buffer.compare(Buffer.from(a.kid), Buffer.from(b.kid)));
  }

  async activate(key: StoredSigningKey, retireAt: number): Promise<void> {
    checkNumbers('signing keys activate', { createdAt: key.createdAt, retireAt });
    const done = await attempt('signing keys activate', () =>
      this.#scripts.oppieSigningActivate(
        `${this.#prefix}active`,
        `${this.#prefix}all`,
        `${this.#prefix}retire`,
        this.#prefix,
        key.kid,
        key.publicPem,
        String(key.createdAt),
        key.privatePem === null ? '0' : '1',
        String(retireAt),
        key.privatePem ?? '',
      ),
    );
    if (Number(done) !== 1) {
      throw new RedisStoreError('signing keys activate', new Error(`kid ${key.kid} exists already`));
    }
  }

  async deleteExpired(now: number): Promise<string[]> {
    if (Number.isNaN(now)) throw new RedisStoreError('signing keys deleteExpired', new Error('now is not a number'));
    const bound = now === Number.POSITIVE_INFINITY ? '+inf' : now === Number.NEGATIVE_INFINITY ? '-inf' : String(now);
    const kids = await attempt('signing keys deleteExpired', () =>
      this.#scripts.oppieSigningDeleteExpired(`${this.#prefix}retire`, `${this.#prefix}all`, bound, this.#prefix),
    );
    return (kids as unknown[]).map(String);
  }

  async close(): Promise<void> {
    await closeClient(this.#redis, this.#owned);
  }
}
