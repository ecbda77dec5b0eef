/**
 * The server tests' Redis: the test kit's real redis-server (`startTestRedis` in @oppie/test-kit) plus ioredis
 * clients, which only the server has as a dependency. Gate the tests with `HAVE_REDIS` (CI fails without
 * redis-server, elsewhere they are skipped loudly).
 *
 * @example
 * describe.runIf(HAVE_REDIS)('thing on redis', () => {
 *   let redis: TestRedis;
 *   beforeAll(async () => { redis = await startTestRedis(); });
 *   afterAll(() => redis?.stop());
 * });
 */
import { hasRedis, type RedisServer, startTestRedis as startRedisServer } from '@oppie/test-kit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

export { freePort, startRedisProcess, stopRedisProcess } from '@oppie/test-kit';

export const HAVE_REDIS = hasRedis();

export interface TestRedis extends RedisServer {
  /** A connected client, disconnected by `stop()`. */
  readonly client: Redis;
  /** A fresh key prefix per call, to isolate tests sharing the server. */
  prefix(): string;
  /** A new connected client (another "instance"), disconnected by `stop()`. */
  connect(): Promise<Redis>;
}

/** Starts a redis-server in a fresh temp dir on a free port, with a connected client. */
export async function startTestRedis(): Promise<TestRedis> {
  const server = await startRedisServer();
  const clients: Redis[] = [];
  const connect = async () => {
    const c = new Redis({ host: '127.0.0.1', port: server.port, lazyConnect: true });
    clients.push(c);
    await c.connect();
    return c;
  };
  let client: Redis;
  try {
    client = await connect();
  } catch (err) {
    await server.stop();
    throw err;
  }
  let n = 0;
  return {
    ...server,
    client,
    prefix: () => `test${++n}:`,
    connect,
    async stop() {
      for (const c of clients) c.disconnect();
      await server.stop();
    },
  };
}

/**
 * Starts one redis-server for the enclosing describe block (beforeAll) with a second client as another "instance",
 * and stops it afterwards. Read `server` and `other` inside tests, not at declaration time.
 */
export function useTestRedis(): { readonly server: TestRedis; readonly other: Redis } {
  let server: TestRedis | undefined;
  let other: Redis | undefined;
  beforeAll(async () => {
    server = await startTestRedis();
    other = await server.connect();
  });
  afterAll(async () => {
    await server?.stop();
  });
  return {
    get server() {
      if (server === undefined) throw new Error('useTestRedis: the server starts in beforeAll');
      return server;
    },
    get other() {
      if (other === undefined) throw new Error('useTestRedis: the server starts in beforeAll');
      return other;
    },
  };
}
