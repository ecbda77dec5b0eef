/**
 * Store-and-forward queues in Redis (Redis >= 7), for relays that scale out: same semantics as `MemoryQueueStore`
 * (priority classes drained high > normal > low, FIFO inside a class, count and byte bounds over pending plus in
 * flight, overflow evicting the oldest pending entry of the lowest class present, TTL checked on take and sweep).
 *
 * Keys, for prefix `p` (default `oppie:`) and device `d` (the `{d}` hash tag keeps a device's keys in one slot):
 * - `p q:{d}:0|1|2`  one Redis Stream per priority class (0 high, 1 normal, 2 low). Entry ids are `0-<seq>` with a
 *                    per-device sequence, so an id can be computed from a number (no `(` exclusive ranges needed).
 * - `p q:{d}:m`      hash: count, bytes, inflight (over all classes), seq, order (take counter), c0..c2.
 *                    `cN` is the class's in-flight offset: every entry of stream N with seq <= cN is in flight, the
 *                    entries after it are pending. Taking only ever advances the offset over the head of the pending
 *                    part, so in-flight entries stay in place at the front of their stream; release resets the
 *                    offsets to 0 and they are pending again, in front and in their original order, without moving.
 * - `p q:{d}:f`      hash: in-flight seq -> "<take order> <sent at>", and `k:<envelope id>` -> take order of the
 *                    entry that put that id in flight: the embedded queue's in-flight iteration order (ack, purge
 *                    and oldestInflightAt follow it, also when two senders' envelopes share an id); and
 *                    `i:<envelope id>` -> "<class>:<seq> ..." of the in-flight entries with that id, in take order,
 *                    so an ack touches only the entries it names (O(ids), not O(in flight)).
 * - `p totals`       hash: depth, bytes over all devices.
 * - `p due`          sorted set: device -> lower bound of its earliest pending expiry; sweep visits only due devices.
 *
 * Every mutating operation is one Lua script (atomic: no other client sees a half-applied operation). Scripts
 * declare themselves with a `#!lua` shebang, so Redis refuses them up front under OOM instead of failing after
 * some writes (Redis does not roll back a script that errors halfway); inputs are validated before any write.
 * Eviction, ack, expiry and purge delete the exact entries with XDEL: the bounds span three streams plus in-flight
 * entries by count and bytes, which no XTRIM length or MINID expresses, and in-flight entries must not be trimmed.
 *
 * `totals()` is synchronous: it returns this instance's cached view of the global totals, updated from the result
 * of each of its own mutating scripts (other instances' changes show up after this instance's next operation, or
 * after `refreshTotals()`). Sweep, unlike the others, is atomic per device, not across devices.
 */
import { PRIORITY_RANK, type Priority } from '@oppie/protocol';
import type { Redis, RedisOptions } from 'ioredis';
import { closeClient, defineScripts, redisClient } from '../store/redis/client.js';
import type { QueueBounds } from './device-queue.js';
import type { QueueStats, QueueStore } from './queue-store.js';
import type { QueuedEnvelope } from './queued-envelope.js';

/** A Redis failure in a queue operation. The operation was applied entirely or not at all. */
export class QueueStoreError extends Error {
  readonly code = 'RELAY_ERR_STORE';
  constructor(op: string, cause: unknown) {
    super(`queue store: ${op} failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'QueueStoreError';
  }
}

export interface RedisQueueStoreOptions {
  readonly bounds: QueueBounds;
  /** A client (not closed by `close()`), a redis:// URL or client options (the store owns and closes that one). */
  readonly redis: Redis | string | RedisOptions;
  /** Prefix of every key; default `oppie:`. */
  readonly keyPrefix?: string;
  /**
   * Connection errors of the client (ioredis reconnects by itself meanwhile; operations that fail reject with
   * `QueueStoreError`). Without it ioredis logs them.
   */
  readonly onError?: (err: Error) => void;
}

/** Stream entry field order; the scripts read fields by position (2 id, 4 from, 14 bytes, 18 expiresAt). */
const FIELDS = ['id', 'from', 'to', 'type', 'priority', 'text', 'bytes', 'acceptedAt', 'expiresAt'] as const;

const PRELUDE = `
local S = {KEYS[1], KEYS[2], KEYS[3]}
local META, FLIGHT, TOTALS, DUE = KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local DEV = ARGV[1]
local function num(s)
  if s == nil or s == false or s == '' then return nil end
  if s == 'Infinity' then return math.huge end
  if s == '-Infinity' then return -math.huge end
  return tonumber(s)
end
local function score(s)
  if s == 'Infinity' then return '+inf' end
  if s == '-Infinity' then return '-inf' end
  return s
end
local function seqOf(id) return tonumber(string.sub(id, 3)) end
local function sid(n) return string.format('0-%d', n) end
local m = redis.call('HMGET', META, 'count', 'bytes', 'inflight', 'seq', 'order', 'c0', 'c1', 'c2')
local count, bytes, inflight = num(m[1]) or 0, num(m[2]) or 0, num(m[3]) or 0
local seq, order = num(m[4]) or 0, num(m[5]) or 0
local cur = {num(m[6]) or 0, num(m[7]) or 0, num(m[8]) or 0}
local count0, bytes0 = count, bytes
local function pending(r, after, n)
  if n then return redis.call('XRANGE', S[r], sid(after + 1), '+', 'COUNT', n) end
  return redis.call('XRANGE', S[r], sid(after + 1), '+')
end
local function lowerDue(s)
  local old = redis.call('ZSCORE', DUE, DEV)
  if not old or num(s) < num(old) then redis.call('ZADD', DUE, score(s), DEV) end
end
-- In-flight entries of every class, in the embedded queue's iteration order: by the take order of the entry that
-- put their envelope id in flight ('k:<id>', kept while any entry with that id is in flight), then by take order.
-- {e = entry, r = class, o = take order, k = id order, t = sent at}.
local function inflightList()
  local out = {}
  if inflight == 0 then return out end
  local f = redis.call('HGETALL', FLIGHT)
  local meta = {}
  for i = 1, #f, 2 do meta[f[i]] = f[i + 1] end
  for r = 1, 3 do
    if cur[r] > 0 then
      for _, e in ipairs(redis.call('XRANGE', S[r], '-', sid(cur[r]))) do
        local v = meta[tostring(seqOf(e[1]))] or '0 0'
        local sp = string.find(v, ' ')
        local o = tonumber(string.sub(v, 1, sp - 1))
        local k = tonumber(meta['k:' .. e[2][2]] or o)
        table.insert(out, {e = e, r = r, o = o, k = k, t = string.sub(v, sp + 1)})
      end
    end
  end
  table.sort(out, function(a, b)
    if a.k ~= b.k then return a.k < b.k end
    return a.o < b.o
  end)
  return out
end
local function finish(...)
  if count == 0 then
    redis.call('DEL', S[1], S[2], S[3], META, FLIGHT)
    redis.call('ZREM', DUE, DEV)
  else
    redis.call('HSET', META, 'count', count, 'bytes', bytes, 'inflight', inflight, 'seq', seq, 'order', order,
      'c0', cur[1], 'c1', cur[2], 'c2', cur[3])
  end
  if count ~= count0 then redis.call('HINCRBY', TOTALS, 'depth', count - count0) end
  if bytes ~= bytes0 then redis.call('HINCRBY', TOTALS, 'bytes', bytes - bytes0) end
  local t = redis.call('HMGET', TOTALS, 'depth', 'bytes')
  return {t[1] or '0', t[2] or '0', ...}
end
`;

const ENQUEUE = `#!lua
${PRELUDE}
local maxCount, maxBytes, rank = num(ARGV[2]), num(ARGV[3]), tonumber(ARGV[4])
local b = tonumber(ARGV[11])
seq = seq + 1
redis.call('XADD', S[rank], sid(seq), 'id', ARGV[5], 'from', ARGV[6], 'to', ARGV[7], 'type', ARGV[8],
  'priority', ARGV[9], 'text', ARGV[10], 'bytes', ARGV[11], 'acceptedAt', ARGV[12], 'expiresAt', ARGV[13])
count = count + 1
bytes = bytes + b
lowerDue(ARGV[13])
local evicted = {}
while count > maxCount or bytes > maxBytes do
  local victim
  for r = 3, 1, -1 do
    local v = pending(r, cur[r], 1)
    if #v > 0 then
      victim = v[1]
      redis.call('XDEL', S[r], victim[1])
      break
    end
  end
  if victim == nil then break end
  count = count - 1
  bytes = bytes - tonumber(victim[2][14])
  table.insert(evicted, victim)
end
return finish(evicted)
`;

const TAKE = `#!lua
${PRELUDE}
local window, nowS = num(ARGV[2]), ARGV[3]
local now = num(nowS)
local budget = num(ARGV[4]) or math.huge
local entries, expired = {}, {}
if count - inflight > 0 and inflight < window then
  local max = window - inflight
  local r = 1
  while r <= 3 and #entries < max and budget > 0 do
    local pos = cur[r]
    local stop = false
    while not stop and #entries < max and budget > 0 do
      local batch = pending(r, pos, math.min(max - #entries, 1000))
      if #batch == 0 then break end
      for _, e in ipairs(batch) do
        if #entries >= max or budget <= 0 then stop = true break end
        local s = seqOf(e[1])
        pos = s
        if num(e[2][18]) <= now then
          redis.call('XDEL', S[r], e[1])
          count = count - 1
          bytes = bytes - tonumber(e[2][14])
          table.insert(expired, e)
        else
          cur[r] = s
          redis.call('HSET', FLIGHT, tostring(s), string.format('%d', order) .. ' ' .. nowS)
          redis.call('HSETNX', FLIGHT, 'k:' .. e[2][2], string.format('%d', order))
          local ik = 'i:' .. e[2][2]
          local prev = redis.call('HGET', FLIGHT, ik)
          redis.call('HSET', FLIGHT, ik, (prev and (prev .. ' ') or '') .. r .. ':' .. s)
          order = order + 1
          inflight = inflight + 1
          budget = budget - tonumber(e[2][14])
          table.insert(entries, e)
        end
      end
    end
    r = r + 1
  end
end
return finish(entries, expired)
`;

const ACK = `#!lua
${PRELUDE}
-- Each in-flight id is indexed (FLIGHT i:<id> = "<class>:<seq> ..." in take order), so an ack reads only the
-- entries it names instead of every entry in flight.
local hasFrom, from = ARGV[2] == '1', ARGV[3]
local acked = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local index = redis.call('HGET', FLIGHT, 'i:' .. id)
  if index then
    local keep = {}
    for token in string.gmatch(index, '%S+') do
      local r, s = string.match(token, '(%d+):(%d+)')
      r, s = tonumber(r), tonumber(s)
      local e = redis.call('XRANGE', S[r], sid(s), sid(s))[1]
      if e == nil then
        -- gone already (cannot happen while the index is kept in step; dropped from the index either way)
      elseif hasFrom and e[2][4] ~= from then
        table.insert(keep, token)
      else
        redis.call('XDEL', S[r], e[1])
        redis.call('HDEL', FLIGHT, tostring(s))
        inflight = inflight - 1
        count = count - 1
        bytes = bytes - tonumber(e[2][14])
        table.insert(acked, e)
      end
    end
    if #keep == 0 then
      redis.call('HDEL', FLIGHT, 'k:' .. id, 'i:' .. id)
    else
      redis.call('HSET', FLIGHT, 'i:' .. id, table.concat(keep, ' '))
    end
  end
end
return finish(acked)
`;

const RELEASE = `#!lua
${PRELUDE}
local released = {}
if inflight > 0 then
  for _, x in ipairs(inflightList()) do
    lowerDue(x.e[2][18])
    table.insert(released, x.e)
  end
  cur = {0, 0, 0}
  inflight = 0
  redis.call('DEL', FLIGHT)
end
return finish(released)
`;

const SWEEP = `#!lua
${PRELUDE}
local now = num(ARGV[2])
local expired = {}
local nextS, nextN = nil, math.huge
for r = 1, 3 do
  for _, e in ipairs(pending(r, cur[r])) do
    local x = num(e[2][18])
    if x <= now then
      redis.call('XDEL', S[r], e[1])
      count = count - 1
      bytes = bytes - tonumber(e[2][14])
      table.insert(expired, e)
    elseif nextS == nil or x < nextN then
      nextS, nextN = e[2][18], x
    end
  end
end
if nextS == nil then redis.call('ZREM', DUE, DEV) else redis.call('ZADD', DUE, score(nextS), DEV) end
return finish(expired)
`;

const PURGE = `#!lua
${PRELUDE}
local all = {}
for _, x in ipairs(inflightList()) do table.insert(all, x.e) end
for r = 1, 3 do
  for _, e in ipairs(pending(r, cur[r])) do table.insert(all, e) end
end
count, bytes, inflight = 0, 0, 0
return finish(all)
`;

const OLDEST = `#!lua flags=no-writes
${PRELUDE}
local first = inflightList()[1]
if first == nil then return false end
return first.t
`;

type Raw = [string, string[]];
type Call = (...args: (string | number)[]) => Promise<unknown>;
interface Scripts {
  oppieQueueEnqueue: Call;
  oppieQueueTake: Call;
  oppieQueueAck: Call;
  oppieQueueRelease: Call;
  oppieQueueSweep: Call;
  oppieQueuePurge: Call;
  oppieQueueOldest: Call;
}

const SCRIPTS: Record<keyof Scripts, string> = {
  oppieQueueEnqueue: ENQUEUE,
  oppieQueueTake: TAKE,
  oppieQueueAck: ACK,
  oppieQueueRelease: RELEASE,
  oppieQueueSweep: SWEEP,
  oppieQueuePurge: PURGE,
  oppieQueueOldest: OLDEST,
};

function envelope(raw: Raw): QueuedEnvelope {
  const f = raw[1];
  const v: Record<string, string> = {};
  for (let i = 0; i + 1 < f.length; i += 2) v[f[i] as string] = f[i + 1] as string;
  return {
    id: v.id ?? '',
    from: v.from ?? '',
    to: v.to ?? '',
    type: v.type ?? '',
    priority: (v.priority ?? 'normal') as Priority,
    text: v.text ?? '',
    bytes: Number(v.bytes),
    acceptedAt: Number(v.acceptedAt),
    expiresAt: Number(v.expiresAt),
  };
}

function checkNumbers(op: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (typeof v !== 'number' || Number.isNaN(v)) throw new QueueStoreError(op, new Error(`${name} is not a number`));
  }
}

const envelopes = (raw: unknown): QueuedEnvelope[] => (raw as Raw[]).map(envelope);

/**
 * @example
 * const queues = new RedisQueueStore({ redis: 'redis://127.0.0.1:6379', bounds: { maxCount: 1000, maxBytes: 16 << 20 } });
 * const evicted = await queues.enqueue(entry);
 */
export class RedisQueueStore implements QueueStore {
  private readonly redis: Redis;
  private readonly owned: boolean;
  private readonly scripts: Scripts;
  private readonly prefix: string;
  private readonly bounds: QueueBounds;
  private cached = { depth: 0, bytes: 0 };

  constructor(opts: RedisQueueStoreOptions) {
    this.bounds = opts.bounds;
    this.prefix = opts.keyPrefix ?? 'oppie:';
    ({ redis: this.redis, owned: this.owned } = redisClient(opts));
    this.scripts = defineScripts<Scripts>(
      this.redis,
      Object.fromEntries(Object.entries(SCRIPTS).map(([name, lua]) => [name, { lua, numberOfKeys: 7 }])),
    );
  }

  private keys(deviceId: string): string[] {
    const d = `${this.prefix}q:{${deviceId}}`;
    return [`${d}:0`, `${d}:1`, `${d}:2`, `${d}:m`, `${d}:f`, `${this.prefix}totals`, `${this.prefix}due`];
  }

  /** Runs one script; updates the totals cache from its first two results and returns the rest. */
  private async run(op: string, name: keyof Scripts, deviceId: string, ...args: (string | number)[]) {
    let out: unknown[];
    try {
      out = (await this.scripts[name](...this.keys(deviceId), deviceId, ...args)) as unknown[];
    } catch (err) {
      throw new QueueStoreError(op, err);
    }
    this.cached = { depth: Number(out[0]), bytes: Number(out[1]) };
    return out.slice(2);
  }

  async enqueue(entry: QueuedEnvelope): Promise<QueuedEnvelope[]> {
    const rank = PRIORITY_RANK[entry.priority];
    if (rank === undefined) throw new QueueStoreError('enqueue', new Error(`unknown priority ${entry.priority}`));
    if (!Number.isInteger(entry.bytes) || entry.bytes < 0) {
      throw new QueueStoreError('enqueue', new Error(`bytes must be a non-negative integer, got ${entry.bytes}`));
    }
    // Checked here, not in the script: Redis does not undo the writes of a script that fails halfway.
    checkNumbers('enqueue', { acceptedAt: entry.acceptedAt, expiresAt: entry.expiresAt, ...this.bounds });
    const [evicted] = await this.run(
      'enqueue',
      'oppieQueueEnqueue',
      entry.to,
      String(this.bounds.maxCount),
      String(this.bounds.maxBytes),
      rank + 1,
      ...FIELDS.map((f) => String(entry[f])),
    );
    return envelopes(evicted);
  }

  async take(deviceId: string, window: number, now: number, budgetBytes?: number) {
    checkNumbers('take', { window, now, budgetBytes: budgetBytes ?? 0 });
    const [entries, expired] = await this.run(
      'take',
      'oppieQueueTake',
      deviceId,
      String(window),
      String(now),
      budgetBytes === undefined ? '' : String(budgetBytes),
    );
    return { entries: envelopes(entries), expired: envelopes(expired) };
  }

  async ack(deviceId: string, ids: readonly string[], from: string | undefined): Promise<QueuedEnvelope[]> {
    if (ids.length === 0) return [];
    const [acked] = await this.run(
      'ack',
      'oppieQueueAck',
      deviceId,
      from === undefined ? '0' : '1',
      from ?? '',
      ...ids,
    );
    return envelopes(acked);
  }

  async release(deviceId: string): Promise<QueuedEnvelope[]> {
    const [released] = await this.run('release', 'oppieQueueRelease', deviceId);
    return envelopes(released);
  }

  async sweep(now: number): Promise<QueuedEnvelope[]> {
    checkNumbers('sweep', { now });
    let due: string[];
    try {
      due = await this.redis.zrangebyscore(`${this.prefix}due`, '-inf', String(now));
    } catch (err) {
      throw new QueueStoreError('sweep', err);
    }
    const expired: QueuedEnvelope[] = [];
    for (const deviceId of due) {
      const [out] = await this.run('sweep', 'oppieQueueSweep', deviceId, String(now));
      expired.push(...envelopes(out));
    }
    return expired;
  }

  async purge(deviceId: string): Promise<QueuedEnvelope[]> {
    const [all] = await this.run('purge', 'oppieQueuePurge', deviceId);
    return envelopes(all);
  }

  async stats(deviceId: string): Promise<QueueStats> {
    try {
      const [depth, bytes, inflight] = await this.redis.hmget(
        this.keys(deviceId)[3] as string,
        'count',
        'bytes',
        'inflight',
      );
      return { depth: Number(depth ?? 0), bytes: Number(bytes ?? 0), inflight: Number(inflight ?? 0) };
    } catch (err) {
      throw new QueueStoreError('stats', err);
    }
  }

  async oldestInflightAt(deviceId: string): Promise<number | undefined> {
    let out: unknown;
    try {
      out = await this.scripts.oppieQueueOldest(...this.keys(deviceId), deviceId);
    } catch (err) {
      throw new QueueStoreError('oldestInflightAt', err);
    }
    return out === null || out === undefined ? undefined : Number(out);
  }

  /** This instance's view of the global totals, as of its last mutating operation (see `refreshTotals`). */
  totals(): { depth: number; bytes: number } {
    return { ...this.cached };
  }

  /** Reads the global totals from Redis now and updates the cache `totals()` returns. */
  async refreshTotals(): Promise<{ depth: number; bytes: number }> {
    try {
      const [depth, bytes] = await this.redis.hmget(`${this.prefix}totals`, 'depth', 'bytes');
      this.cached = { depth: Number(depth ?? 0), bytes: Number(bytes ?? 0) };
    } catch (err) {
      throw new QueueStoreError('totals', err);
    }
    return this.totals();
  }

  async close(): Promise<void> {
    await closeClient(this.redis, this.owned);
  }
}
