/**
 * Scale-out under failure, with real processes: three relay instances (separate Node processes, REDIS_URL set)
 * behind a real haproxy (round robin, no stickiness), one real redis-server with AOF, and SDK clients that know only
 * the balancer's URL. A relay killed with SIGKILL mid-stream, and Redis restarted mid-stream: every numbered message
 * arrives exactly once, in order, both ways.
 */
import { execFileSync } from 'node:child_process';
import type { OppieClient } from '@oppie/client-sdk';
import {
  freePort,
  type Haproxy,
  hasHaproxy,
  hasRedis,
  type RedisServer,
  type RelayProcess,
  startHaproxy,
  startRelayProcess,
  startTestRedis,
} from '@oppie/test-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pairedClients, tappedSocket } from '../sdk/sdk-fixture.js';

const HAVE_BOTH = hasHaproxy() && hasRedis();

/** Frames one client's sockets carried, by type and direction, and when the last of each went: a stall's account. */
type Wire = Map<string, { n: number; at: number }>;
const typeOf = (text: string) => /"type":"([a-z_]+)"/.exec(text.slice(0, 200))?.[1] ?? '?';

/** Counts every frame of one client's sockets into `wire`. */
function counting(wire: Wire) {
  const count = (key: string) => {
    const c = wire.get(key) ?? { n: 0, at: 0 };
    c.n += 1;
    c.at = Date.now();
    wire.set(key, c);
  };
  return tappedSocket({
    in: (data) => count(`in ${typeOf(data)}`),
    out: (data) => count(`out ${typeOf(data)}`),
    closed: () => count('closed'),
  });
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe.runIf(HAVE_BOTH)('three relay processes behind haproxy on one Redis', () => {
  let redis: RedisServer;
  const relays: RelayProcess[] = [];
  let lb: Haproxy;

  beforeAll(async () => {
    redis = await startTestRedis();
    const lbPort = await freePort();
    const env = {
      REDIS_URL: redis.url,
      PUBLIC_URL: `http://127.0.0.1:${lbPort}`, // the issuer every instance names: the balancer's address
      // Every client comes from the balancer's address, and this test sends tens of thousands of envelopes.
      ENVELOPES_PER_SECOND: '20000',
      ENVELOPE_BURST: '20000',
      UPGRADES_PER_IP_PER_SECOND: '1000',
      AUTH_REQUESTS_PER_IP_PER_MINUTE: '10000',
      SHUTDOWN_GRACE_SECONDS: '2',
    };
    // The first instance creates the shared signing key; the others find it.
    relays.push(await startRelayProcess({ env }));
    relays.push(...(await Promise.all([startRelayProcess({ env }), startRelayProcess({ env })])));
    lb = await startHaproxy({ port: lbPort, backends: relays.map((r) => ({ host: '127.0.0.1', port: r.port })) });
  }, 60_000);

  afterAll(async () => {
    await lb?.stop();
    await Promise.all(relays.map((r) => r.stop()));
    await redis?.stop();
  });

  /** The relay process holding the socket of the device with `role` (its own connection gauge says so). */
  async function holding(role: 'sidecar' | 'pwa'): Promise<RelayProcess> {
    for (const r of relays) {
      const text = await (await fetch(`${r.url}/api/metrics`)).text();
      const m = text.match(new RegExp(`^oppie_relay_connections\\{role="${role}"\\} (\\d+)`, 'm'));
      if (Number(m?.[1] ?? 0) > 0) return r;
    }
    throw new Error(`no relay holds a ${role} connection`);
  }

  /** Streams `n` numbered chats each way and resolves with what each side received, once both have all. */
  async function stream(
    sidecar: OppieClient,
    phone: OppieClient,
    n: number,
    midway: () => Promise<void>,
    wires: { sidecar: Wire; phone: Wire },
  ): Promise<{ atSidecar: number[]; atPhone: number[] }> {
    const atSidecar: number[] = [];
    const atPhone: number[] = [];
    sidecar.events.on('chat', (m) => atSidecar.push((m.payload as { n: number }).n));
    phone.events.on('chat', (m) => atPhone.push((m.payload as { n: number }).n));
    // What each SDK saw, for a failure's diagnosis: presence, state changes and errors, by ms since the start.
    const t0 = Date.now();
    const seen: string[] = [];
    for (const [name, c] of [
      ['sidecar', sidecar],
      ['phone', phone],
    ] as const) {
      c.events.on('peer', (e) => seen.push(`${Date.now() - t0} ${name} peer online=${e.online}`));
      c.events.on('state', (e) => seen.push(`${Date.now() - t0} ${name} state ${e.to}`));
      c.events.on('error', (e) => seen.push(`${Date.now() - t0} ${name} error ${e.code} ${e.message.slice(0, 120)}`));
    }
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < n; i++) sends.push(sidecar.send('chat', { n: i }), phone.send('chat', { n: i }));
    for (const p of sends) p.catch(() => {}); // awaited below; a failed run must not also report each one
    /** Prints what the store, the relays and both SDKs show of a stall. */
    const diagnose = async () => {
      const cli = (...a: string[]) => {
        try {
          return execFileSync('redis-cli', ['-p', String(redis.port), ...a], { timeout: 5_000 })
            .toString()
            .replace(/\n/g, ' ');
        } catch (err) {
          return `(redis-cli failed: ${String(err).slice(0, 80)})`;
        }
      };
      console.log(
        `DIAG sidecar q ${cli('hgetall', `oppie:q:{${sidecar.deviceId}}:m`)} phone q ${cli('hgetall', `oppie:q:{${phone.deviceId}}:m`)} subs ${cli('pubsub', 'numsub', `oppie:dev:${sidecar.deviceId}`, `oppie:dev:${phone.deviceId}`)} presence ${cli('hgetall', `oppie:{presence}:${sidecar.deviceId}`)} / ${cli('hgetall', `oppie:{presence}:${phone.deviceId}`)} publishes ${/cmdstat_publish:calls=\d+/.exec(cli('info', 'commandstats'))?.[0]}`,
      );
      for (const r of relays) console.log(`DIAG relay ${r.port} output: ${r.output().slice(-3000)}`);
      for (const r of relays) {
        // A relay killed by the test answers nothing: say so rather than hide the timeout behind "fetch failed".
        const text = await fetch(`${r.url}/api/metrics`).then(
          (x) => x.text(),
          (err: unknown) => `unreachable: ${String(err)}`,
        );
        const lines = text
          .split('\n')
          .filter((l) => /^(oppie_relay_(duplicates|refused|queue_drops|queue_expired)|unreachable)/.test(l));
        console.log(`DIAG relay ${r.port} metrics: ${lines.join(' | ')}`);
      }
      console.log(
        `DIAG sdk: sidecar pending ${JSON.stringify(sidecar.pending)} phone pending ${JSON.stringify(phone.pending)}; ` +
          `last at sidecar ${atSidecar.at(-1)}, at phone ${atPhone.at(-1)}\n${seen.slice(-200).join('\n')}\n` +
          Object.entries(wires)
            .map(([name, w]) => `wire ${name}: ${[...w].map(([k, c]) => `${k} ${c.n} (last ${c.at - t0})`).join(', ')}`)
            .join('\n'),
      );
    };
    const until = async (what: string, done: () => boolean) => {
      // Generous: after an outage each client waits out its reconnect backoff (full jitter, capped at 30 s).
      for (const deadline = Date.now() + 120_000; !done(); await new Promise((r) => setTimeout(r, 100))) {
        if (Date.now() > deadline) {
          const health = await Promise.all(
            relays.map((r) =>
              fetch(`${r.url}/api/health`).then(
                (x) => x.status,
                () => 0,
              ),
            ),
          );
          await diagnose();
          throw new Error(
            `${what}: sidecar got ${atSidecar.length}/${n}, phone ${atPhone.length}/${n}; states ${sidecar.state}/${phone.state}; ` +
              `relays' health ${health}`,
          );
        }
      }
    };
    await until('a quarter', () => Math.min(atSidecar.length, atPhone.length) > n / 4);
    await midway();
    await until('everything', () => Math.min(atSidecar.length, atPhone.length) >= n);
    await Promise.all(sends);
    await new Promise((r) => setTimeout(r, 300)); // a late duplicate would show now
    return { atSidecar, atPhone };
  }

  /**
   * A fresh sidecar and phone through the balancer stream `n` numbered messages each way, with `midway` run once a
   * quarter has arrived; each side must get 0..n-1 exactly once, in order.
   */
  async function exactlyOnce(n: number, midway: () => Promise<void>, watch?: (sidecar: OppieClient) => void) {
    const wires = { sidecar: new Map() as Wire, phone: new Map() as Wire };
    const socket = (wire: Wire) => ({ platform: { WebSocket: counting(wire) } });
    const { sidecar, phone } = await pairedClients(lb.url, {
      sidecar: socket(wires.sidecar),
      phone: socket(wires.phone),
    });
    await phone.connect();
    watch?.(sidecar);
    try {
      const got = await stream(sidecar, phone, n, midway, wires);
      expect(got.atSidecar).toEqual(range(n));
      expect(got.atPhone).toEqual(range(n));
    } finally {
      await sidecar.close();
      await phone.close();
    }
  }

  it('kill -9 of an instance mid-stream: 10,000 numbered messages each way arrive exactly once, in order', async () => {
    let victim: RelayProcess | undefined;
    await exactlyOnce(10_000, async () => {
      victim = await holding('sidecar');
      await victim.kill('SIGKILL');
    });
    console.log(`killed the sidecar's relay (port ${victim?.port}) mid-stream; 10,000 each way arrived`);
    await victim?.restart();
  }, 300_000);

  it('Redis restarted mid-stream: nothing lost, nothing repeated', async () => {
    await exactlyOnce(3_000, () => redis.restart());
  }, 300_000);

  it('Redis stopped for 10 s mid-stream: clear refusals meanwhile, then recovery with nothing lost', async () => {
    const states: string[] = [];
    const during: number[] = [];
    await exactlyOnce(
      3_000,
      async () => {
        await redis.halt();
        await new Promise((r) => setTimeout(r, 5_000));
        during.push((await fetch(`${lb.url}/api/health`)).status);
        await new Promise((r) => setTimeout(r, 5_000));
        await redis.resume();
      },
      (sidecar) => sidecar.events.on('state', ({ to }) => states.push(to)),
    );
    // haproxy has no healthy backend while every relay reports its store down: 503 either way.
    expect(during).toEqual([503]);
    expect(states).toContain('reconnecting');
  }, 300_000);
});
