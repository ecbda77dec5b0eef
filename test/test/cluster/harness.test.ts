/**
 * The scale-out harness itself: relays as separate processes behind a real haproxy (round robin, health checks,
 * WebSocket tunnels, a SIGKILLed relay leaving the rotation), and a real redis-server that can be halted, resumed,
 * restarted, killed and frozen.
 */
import { existsSync } from 'node:fs';
import { createConnection } from 'node:net';
import {
  api,
  connectDevice,
  type Haproxy,
  hasHaproxy,
  hasRedis,
  pingRedis,
  type RedisServer,
  type RelayProcess,
  registerDevice,
  startHaproxy,
  startRelayProcess,
  startTestRedis,
  type TestDevice,
  TestKitError,
} from '@oppie/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const HAVE_HAPROXY = hasHaproxy();
const HAVE_REDIS = hasRedis();

/** Statuses of `n` sequential GET /api/health calls. */
async function healthStatuses(url: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await api(url, 'GET', '/api/health', undefined, { timeoutMs: 3_000 }).catch(() => ({ status: 0 }));
    out.push(res.status);
  }
  return out;
}

/** One session attempt through the balancer: 'welcome', or the relay's error code when it refused the upgrade. */
async function attempt(url: string, device: TestDevice): Promise<string> {
  try {
    const s = await connectDevice(url, device);
    await s.close();
    return 'welcome';
  } catch (err) {
    if (err instanceof TestKitError && err.code === 'TESTKIT_UPGRADE_REFUSED') return `${err.status} ${err.body?.code}`;
    throw err;
  }
}

describe.runIf(HAVE_HAPROXY)('relay processes behind haproxy', () => {
  let a: RelayProcess;
  let b: RelayProcess;
  let lb: Haproxy;
  let device: TestDevice;

  beforeAll(async () => {
    [a, b] = await Promise.all([startRelayProcess(), startRelayProcess()]);
    lb = await startHaproxy({ backends: [a, b].map((r) => ({ host: '127.0.0.1', port: r.port })) });
    // Registered on relay a directly: only a knows the device and signed its token.
    device = await registerDevice(a.url, 'workstation');
  });

  afterAll(async () => {
    await Promise.all([lb?.stop(), a?.stop(), b?.stop()]);
  });

  it('answers GET /api/health through haproxy', async () => {
    expect(await healthStatuses(lb.url, 4)).toEqual([200, 200, 200, 200]);
  });

  it('tunnels WebSocket sessions, round robin over both relays', async () => {
    const results: string[] = [];
    for (let i = 0; i < 4; i++) results.push(await attempt(lb.url, device));
    // Relay a welcomes the device; relay b, with its own signing key, refuses its token with a relay error code.
    expect(results).toContain('welcome');
    expect(results.filter((r) => r !== 'welcome')).not.toHaveLength(0);
    for (const r of results.filter((r) => r !== 'welcome')) expect(r).toMatch(/^401 RELAY_ERR_/);
  });

  it('keeps answering when a relay is killed with SIGKILL, and takes it back after its restart', async () => {
    const pid = a.pid;
    await a.kill();
    expect(a.running()).toBe(false);
    // Connection refused is redispatched to b at once; the health check takes a out within about a second.
    await expect
      .poll(() => healthStatuses(lb.url, 6), { timeout: 5_000, interval: 250 })
      .toEqual([200, 200, 200, 200, 200, 200]);
    expect(await attempt(lb.url, device)).toMatch(/^401 RELAY_ERR_/);

    await a.restart();
    expect(a.pid).not.toBe(pid);
    // Same port and data dir: the device and the signing key survived, so a welcomes it again once back in rotation.
    await expect.poll(() => attempt(lb.url, device), { timeout: 5_000, interval: 100 }).toBe('welcome');
  });
});

/** Sends one inline command to Redis and returns its first reply line. */
function redisCommand(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let buf = '';
    sock.setTimeout(2_000, () => sock.destroy(new Error(`redis: no answer to ${command}`)));
    sock.once('error', reject);
    sock.once('connect', () => sock.write(`${command}\r\n`));
    sock.on('data', (d) => {
      buf += d.toString();
      const lines = buf.split('\r\n');
      // A bulk reply ($n) is two lines; anything else one.
      if (lines.length > (buf.startsWith('$') && !buf.startsWith('$-1') ? 2 : 1)) {
        sock.destroy();
        resolve(buf.startsWith('$') ? (lines[1] ?? '') : (lines[0] ?? ''));
      }
    });
  });
}

describe.runIf(HAVE_REDIS)('test redis-server', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startTestRedis();
  });

  afterAll(async () => {
    await redis?.stop();
  });

  it('answers PING at its url', async () => {
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(await pingRedis(redis.port)).toBe(true);
  });

  it('halts and resumes on the same port, keeping its data (an outage)', async () => {
    expect(await redisCommand(redis.port, 'SET harness:outage kept')).toBe('+OK');
    await redis.halt();
    expect(redis.running()).toBe(false);
    expect(await pingRedis(redis.port)).toBe(false);
    await redis.resume();
    expect(await pingRedis(redis.port)).toBe(true);
    expect(await redisCommand(redis.port, 'GET harness:outage')).toBe('kept');
  });

  it('restarts with its AOF replayed', async () => {
    expect(await redisCommand(redis.port, 'SET harness:restart kept')).toBe('+OK');
    await redis.restart();
    expect(await pingRedis(redis.port)).toBe(true);
    expect(await redisCommand(redis.port, 'GET harness:restart')).toBe('kept');
  });

  it('comes back after SIGKILL, and after a freeze', async () => {
    await redis.kill();
    expect(await pingRedis(redis.port)).toBe(false);
    await redis.resume();
    expect(await pingRedis(redis.port)).toBe(true);

    redis.freeze();
    expect(await pingRedis(redis.port, 300)).toBe(false);
    redis.thaw();
    await expect.poll(() => pingRedis(redis.port), { timeout: 2_000, interval: 50 }).toBe(true);
  });

  it('removes its dir on stop', async () => {
    const other = await startTestRedis();
    await other.stop();
    expect(existsSync(other.dir)).toBe(false);
    expect(await pingRedis(other.port)).toBe(false);
  });
});
