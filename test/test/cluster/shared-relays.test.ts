/**
 * Several relay instances on one real Redis (REDIS_URL), each in this process on its own port: devices on different
 * instances talk both ways, a queue is drained by whichever instance its device reconnects to, presence, sessions and
 * device lists agree on every instance, a revocation on one instance kicks the socket on another, and a Redis outage
 * gives clear errors and recovers by itself. The load-balanced, kill -9 version is lb-failover.test.ts.
 */
import { execFileSync } from 'node:child_process';
import {
  apiOk,
  connectDevice,
  decodePayload,
  hasRedis,
  type PairedDevice,
  pairDevice,
  type RedisServer,
  type RelayOverrides,
  registerDevice,
  startRouteProxy,
  startTestRedis,
  startTestRelay,
  type TestDevice,
  type TestRelay,
} from '@oppie/test-kit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pairedClients } from '../sdk/sdk-fixture.js';

const HAVE_REDIS = hasRedis();

interface SessionRow {
  deviceId: string;
  online: boolean;
  path: string | null;
  queueDepth: number;
}

describe.runIf(HAVE_REDIS)('relay instances sharing one Redis', () => {
  let redis: RedisServer;
  let relays: TestRelay[] = [];
  let sidecar: TestDevice;
  let phone: PairedDevice;
  const open: Array<{ close(): unknown }> = [];

  beforeAll(async () => {
    redis = await startTestRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  /** `n` instances on the test's Redis; `redisUrls[i]`, when given, is how instance i reaches it (a proxy). */
  const startRelays = async (n: number, redisUrls: readonly string[] = [], more: RelayOverrides = {}) => {
    let started = 0;
    const start = () =>
      startTestRelay({
        redisUrl: redisUrls[started++] ?? redis.url,
        publicUrl: 'http://relay.test',
        envelopesPerSecond: 2000,
        // One Redis for the whole file, so the per-address auth budget is shared by every test's registrations.
        authRequestsPerIpPerMinute: 10_000,
        ...more,
      });
    // The first instance creates the shared signing key on the empty Redis; started together, each would create
    // its own (see docs/operations.md#scaling: in production every instance reads JWT_SIGNING_KEY_FILE).
    const first = await start();
    relays = [first, ...(await Promise.all(Array.from({ length: n - 1 }, start)))];
    sidecar = await registerDevice(relays[0]!.url, 'workstation');
    // Paired through another instance: pairing codes and the registry are shared.
    phone = await pairDevice(relays[1]!.url, sidecar.token, 'phone');
  };
  /** A device connected (auto-acking) to the relay at `url`, closed after the test. */
  const online = async (url: string, device: TestDevice) => {
    const c = await connectDevice(url, device, { autoAck: true });
    open.push(c);
    return c;
  };
  /** Sessions by path on one instance, from its metrics. */
  const sessions = async (r: TestRelay) => {
    const text = await (await fetch(`${r.url}/api/metrics`)).text();
    const n = (path: string) =>
      Number(new RegExp(`^oppie_relay_sessions_by_path\\{path="${path}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
    return { relay: n('relay'), direct: n('direct') };
  };
  /** Envelopes an instance evicted from full queues, from its metrics. */
  const queueFullDrops = async (r: TestRelay) => {
    const text = await (await fetch(`${r.url}/api/metrics`)).text();
    return Number(/^oppie_relay_queue_drops_total\{reason="queue_full"\} (\d+)$/m.exec(text)?.[1] ?? 0);
  };
  const total = async (rs: readonly TestRelay[]) => {
    let all = 0;
    for (const r of rs) {
      const x = await sessions(r);
      all += x.relay + x.direct;
    }
    return all;
  };

  /** Stops Redis, runs `during` (its checks of the outage), then resumes Redis and waits until every instance is healthy. */
  const throughOutage = async (during: () => Promise<void>) => {
    await redis.halt();
    try {
      await during();
    } finally {
      await redis.resume();
    }
    for (const r of relays) {
      await expect.poll(async () => (await fetch(`${r.url}/api/health`)).status, { timeout: 15_000 }).toBe(200);
    }
  };

  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
    await Promise.all(relays.map((r) => r.close()));
    relays = [];
  });

  it('routes both ways between devices on different instances, in order, and each sees the other online', async () => {
    await startRelays(3);
    const [a, b] = relays as [TestRelay, TestRelay];
    const s = await online(a.url, sidecar);
    const ph = await online(b.url, phone);
    // The sidecar learns of the phone through the other instance; the phone's welcome shows the sidecar online.
    const up = await s.next('presence', (f) => f.payload.deviceId === phone.deviceId);
    expect(up.payload.online).toBe(true);
    expect(ph.welcome?.devices.find((d) => d.deviceId === sidecar.deviceId)?.online).toBe(true);

    const N = 200;
    const sent = Array.from({ length: N }, (_, i) => ph.chat(sidecar.deviceId, `p${i}`));
    const back = Array.from({ length: N }, (_, i) => s.chat(phone.deviceId, `s${i}`));
    // Online on another instance: acknowledged as forwarded (woken there), not queued.
    expect((await ph.ackFor(sent[0]!.id)).payload.status).toBe('forwarded');
    const atSidecar: string[] = [];
    const atPhone: string[] = [];
    for (let i = 0; i < N; i++) atSidecar.push(decodePayload(await s.next('chat')) as string);
    for (let i = 0; i < N; i++) atPhone.push(decodePayload(await ph.next('chat')) as string);
    expect(atSidecar).toEqual(sent.map((_, i) => `p${i}`));
    expect(atPhone).toEqual(back.map((_, i) => `s${i}`));

    await ph.close();
    const down = await s.next('presence', (f) => f.payload.deviceId === phone.deviceId);
    expect(down.payload.online).toBe(false);
  });

  it("drains a device's queue on whichever instance it reconnects to", async () => {
    await startRelays(3);
    const [a, , c] = relays as [TestRelay, TestRelay, TestRelay];
    const s = await online(a.url, sidecar);
    const queued = Array.from({ length: 50 }, (_, i) => s.chat(phone.deviceId, `q${i}`));
    expect((await s.ackFor(queued[0]!.id)).payload.status).toBe('queued');
    for (const e of queued.slice(1)) await s.ackFor(e.id);
    const ph = await online(c.url, phone);
    const got: string[] = [];
    for (let i = 0; i < queued.length; i++) got.push(decodePayload(await ph.next('chat')) as string);
    expect(got).toEqual(queued.map((_, i) => `q${i}`));
  });

  /**
   * The sidecar, on `a`, queues a chat for the offline phone; a second phone, on `b`, queues two more, which overflows
   * the phone's queue (room for two) there and evicts the sidecar's. `cutOff` runs before the second phone sends and
   * `restore` after. The sidecar must then be told (`dropped`), and its resend with the same id, through `a`, which had
   * seen that id, must be taken as new and delivered.
   */
  const resendAfterEviction = async (a: TestRelay, b: TestRelay, cutOff = async () => {}, restore = async () => {}) => {
    const phone2 = await pairDevice(b.url, sidecar.token, 'second phone');
    const s = await online(a.url, sidecar);
    const first = s.chat(phone.deviceId, 'x');
    expect((await s.ackFor(first.id)).payload.status).toBe('queued');
    const p2 = await online(b.url, phone2);
    await cutOff();
    for (const text of ['y1', 'y2']) await p2.ackFor(p2.chat(phone.deviceId, text).id);
    await restore();
    const notice = await s.next('dropped');
    expect(notice.payload).toMatchObject({ ids: [first.id], to: phone.deviceId, reason: 'queue_full' });
    const again = s.chat(phone.deviceId, 'x', { id: first.id });
    expect((await s.ackFor(again.id)).payload.status).toBe('queued');
    const ph = await online(b.url, phone);
    expect([decodePayload(await ph.next('chat')), decodePayload(await ph.next('chat'))]).toEqual(['y2', 'x']);
  };

  it("takes a sender's resend as new after another instance dropped its envelope (the forget reaches every instance)", async () => {
    await startRelays(2, [], { queueMaxCount: 2, inflightMaxCount: 1 });
    await resendAfterEviction(relays[0]!, relays[1]!);
  });

  it("takes a sender's resend as new after its instance missed the other instance's forget (its link to Redis dropped)", async () => {
    const proxy = await startRouteProxy(Number(new URL(redis.url).port));
    open.push(proxy);
    await startRelays(2, [`redis://127.0.0.1:${proxy.port}`, redis.url], { queueMaxCount: 2, inflightMaxCount: 1 });
    // The eviction happens on the second instance while the first's link is down (under the store-loss grace, so the
    // sidecar's socket stays open): the forget published then never reaches it.
    const cutOff = async () => {
      proxy.refuseNew(true);
      proxy.cut();
    };
    const restore = async () => {
      // Only once the second instance has evicted (and published the forget): before, the first would still get it.
      await expect.poll(() => queueFullDrops(relays[1]!), { timeout: 1_000, interval: 20 }).toBe(1);
      proxy.refuseNew(false);
    };
    await resendAfterEviction(relays[0]!, relays[1]!, cutOff, restore);
  }, 30_000);

  it('answers /api/sessions and /api/auth/devices the same on every instance', async () => {
    await startRelays(3);
    const [a, b] = relays as [TestRelay, TestRelay];
    await online(a.url, sidecar);
    const ph = await connectDevice(b.url, phone);
    open.push(ph);
    // Something waits for the phone (unacknowledged: in flight), so queue figures are part of the comparison.
    const s2 = await connectDevice(a.url, sidecar, { autoAck: true }); // replaces the first, same instance
    open.push(s2);
    s2.chat(phone.deviceId, 'pending');
    await ph.next('chat');
    const views = await Promise.all(
      relays.map(async (r) => ({
        sessions: (
          await apiOk<{ sessions: SessionRow[] }>(r.url, 'GET', '/api/sessions', undefined, { token: phone.token })
        ).sessions,
        devices: (
          await apiOk<{ devices: Array<{ id: string; online: boolean }> }>(
            r.url,
            'GET',
            '/api/auth/devices',
            undefined,
            {
              token: sidecar.token,
            },
          )
        ).devices,
      })),
    );
    const strip = (v: (typeof views)[number]) => ({
      sessions: v.sessions.map(({ deviceId, online, path, queueDepth }) => ({ deviceId, online, path, queueDepth })),
      devices: v.devices.map(({ id, online }) => ({ id, online })),
    });
    expect(strip(views[0]!).sessions).toEqual(
      expect.arrayContaining([
        { deviceId: sidecar.deviceId, online: true, path: 'relay', queueDepth: 0 },
        { deviceId: phone.deviceId, online: true, path: 'relay', queueDepth: 1 },
      ]),
    );
    for (const v of views.slice(1)) expect(strip(v)).toEqual(strip(views[0]!));
  });

  it('shows a reported path in /api/sessions on every instance at once (and the relay once that peer is revoked), not a heartbeat sweep later', async () => {
    // No heartbeat sweep (which writes paths too) during the test: only the report itself can have written them.
    await startRelays(2, [], { heartbeatSeconds: 120 });
    const [a, b] = relays as [TestRelay, TestRelay];
    const s = await online(a.url, sidecar);
    await online(b.url, phone);
    const pathOf = async (r: TestRelay, deviceId: string) =>
      (
        await apiOk<{ sessions: SessionRow[] }>(r.url, 'GET', '/api/sessions', undefined, { token: sidecar.token })
      ).sessions.find((x) => x.deviceId === deviceId)?.path;
    expect(await pathOf(b, sidecar.deviceId)).toBe('relay');
    s.send({ type: 'transport', id: 'rep1', timestamp: Date.now(), payload: { peer: phone.deviceId, path: 'direct' } });
    for (const r of [a, b]) {
      await expect.poll(() => pathOf(r, sidecar.deviceId), { timeout: 3_000 }).toBe('direct');
    }
    s.send({ type: 'transport', id: 'rep2', timestamp: Date.now(), payload: { peer: phone.deviceId, path: 'relay' } });
    await expect.poll(() => pathOf(b, sidecar.deviceId), { timeout: 3_000 }).toBe('relay');
    // The peer is revoked (on the other instance): a path to it is no path any more.
    s.send({ type: 'transport', id: 'rep3', timestamp: Date.now(), payload: { peer: phone.deviceId, path: 'direct' } });
    await expect.poll(() => pathOf(b, sidecar.deviceId), { timeout: 3_000 }).toBe('direct');
    await apiOk(b.url, 'DELETE', `/api/auth/devices/${phone.deviceId}`, undefined, { token: sidecar.token });
    await expect.poll(() => pathOf(b, sidecar.deviceId), { timeout: 3_000 }).toBe('relay');
  });

  it('counts a session across instances once, on the instance of its dialing device, while both ends are online, also when the dialing device moves', async () => {
    await startRelays(2);
    const [a, b] = relays as [TestRelay, TestRelay];
    const s = await online(a.url, sidecar);
    const ph = await online(b.url, phone);
    const sidecarDials = sidecar.deviceId < phone.deviceId;
    const [dialing, other] = sidecarDials ? [a, b] : [b, a];
    // The peer is on the other instance: the dialing device's instance finds it online there (Redis presence).
    expect(await sessions(dialing)).toEqual({ relay: 1, direct: 0 });
    expect(await sessions(other)).toEqual({ relay: 0, direct: 0 });
    const [dialer, peer] = sidecarDials ? [s, phone.deviceId] : [ph, sidecar.deviceId];
    dialer.send({ type: 'transport', id: 'rep1', timestamp: Date.now(), payload: { peer, path: 'direct' } });
    await dialer.ackFor(dialer.chat(peer, 'after the report').id);
    expect(await sessions(dialing)).toEqual({ relay: 0, direct: 1 });
    // The dialing device moves to the other instance (its network changed) and its old socket never answers the
    // close: the old connection is no session any more, the new one is, and the two instances count one between them.
    (dialer.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const moved = await online(other.url, sidecarDials ? sidecar : phone);
    const total = async () => {
      const [x, y] = [await sessions(dialing), await sessions(other)];
      return { relay: x.relay + y.relay, direct: x.direct + y.direct };
    };
    await expect.poll(async () => (await sessions(other)).relay, { timeout: 5_000 }).toBe(1);
    expect(await total()).toEqual({ relay: 1, direct: 0 });
    moved.send({ type: 'transport', id: 'rep2', timestamp: Date.now(), payload: { peer, path: 'direct' } });
    await moved.ackFor(moved.chat(peer, 'after the report').id);
    expect(await total()).toEqual({ relay: 0, direct: 1 });
    dialer.ws.terminate();
    // The peer goes offline: the session ends wherever it was counted.
    await (sidecarDials ? ph : s).close();
    await expect.poll(async () => (await total()).direct, { timeout: 5_000 }).toBe(0);
    expect(await total()).toEqual({ relay: 0, direct: 0 });
  });

  it('counts a session whose peer left the dialing instance for one where its old connection was still closing', async () => {
    await startRelays(2);
    const [a, x] = relays as [TestRelay, TestRelay];
    const [dialing, peer] = sidecar.deviceId < phone.deviceId ? [sidecar, phone] : [phone, sidecar];
    await online(x.url, dialing);
    const p1 = await online(a.url, peer);
    await expect.poll(() => total(relays), { timeout: 5_000 }).toBe(1);
    // The peer moves to the dialing device's instance; its socket on A never answers the close.
    (p1.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    await online(x.url, peer);
    // Back on A while A still closes the first socket: A announces nothing (it replaced a connection of its own), so
    // X, which counts the session, learns the peer is elsewhere from being replaced.
    await online(a.url, peer);
    await expect.poll(() => sessions(x), { timeout: 5_000 }).toEqual({ relay: 1, direct: 0 });
    expect(await total(relays)).toBe(1);
    p1.ws.terminate();
  });

  it('reads presence on other instances again after its own link to Redis dropped, and counts what it missed', async () => {
    const proxy = await startRouteProxy(Number(new URL(redis.url).port));
    open.push(proxy);
    await startRelays(2, [redis.url, `redis://127.0.0.1:${proxy.port}`]);
    const [x, a] = relays as [TestRelay, TestRelay];
    const [dialing, peer] = sidecar.deviceId < phone.deviceId ? [sidecar, phone] : [phone, sidecar];
    const d = await online(a.url, dialing);
    expect(await total(relays)).toBe(0);
    // A's link to Redis drops for a moment (under the store-loss grace: its sockets stay open) while the peer comes
    // online on X: X's presence event never reaches A.
    proxy.refuseNew(true);
    proxy.cut();
    await online(x.url, peer);
    await new Promise((r) => setTimeout(r, 500));
    proxy.refuseNew(false);
    expect(d.ws.readyState).toBe(1);
    await expect.poll(() => sessions(a), { timeout: 10_000 }).toEqual({ relay: 1, direct: 0 });
    // The dialing device also hears of it, as a presence frame.
    const up = await d.next('presence', (f) => f.payload.deviceId === peer.deviceId);
    expect(up.payload.online).toBe(true);
  }, 30_000);

  it('closes a revoked device on another instance with 4500 and refuses its token on every instance', async () => {
    await startRelays(3);
    const [a, b, c] = relays as [TestRelay, TestRelay, TestRelay];
    const ph = await connectDevice(c.url, phone);
    open.push(ph);
    const t0 = Date.now();
    await apiOk(a.url, 'DELETE', `/api/auth/devices/${phone.deviceId}`, undefined, { token: sidecar.token });
    const closed = await ph.closed;
    console.log(`revocation on instance A closed the socket on instance C after ${Date.now() - t0} ms`);
    expect(closed.code).toBe(4500);
    for (const r of [b, c]) {
      await expect(connectDevice(r.url, phone)).rejects.toMatchObject({
        code: 'TESTKIT_UPGRADE_REFUSED',
        body: { code: 'RELAY_ERR_DEVICE_REVOKED' },
      });
    }
  });

  it('newest connection wins across instances: the older one elsewhere is closed with 4501', async () => {
    await startRelays(2);
    const [a, b] = relays as [TestRelay, TestRelay];
    const first = await connectDevice(a.url, phone);
    open.push(first);
    const second = await online(b.url, phone);
    expect((await first.closed).code).toBe(4501);
    const s = await online(a.url, sidecar);
    s.chat(phone.deviceId, 'to the newest');
    expect(decodePayload(await second.next('chat'))).toBe('to the newest');
  });

  it('sends welcome first on every connection, even while presence from other instances is flying', async () => {
    await startRelays(2);
    const phones = await Promise.all(
      Array.from({ length: 30 }, (_, i) => pairDevice(relays[i % 2]!.url, sidecar.token, `phone ${i}`)),
    );
    const sockets = await Promise.all(
      [sidecar, ...phones].map((d, i) => connectDevice(relays[i % 2]!.url, d, { waitForWelcome: false })),
    );
    open.push(...sockets);
    const first = await Promise.all(sockets.map(async (s) => (await s.next()).type));
    expect(new Set(first)).toEqual(new Set(['welcome']));
  });

  it('fails readiness and closes sockets with 4003 while Redis is down, and recovers when it returns', async () => {
    await startRelays(2);
    const [a, b] = relays as [TestRelay, TestRelay];
    const s = await online(a.url, sidecar);
    await throughOutage(async () => {
      expect((await s.closed).code).toBe(4003);
      for (const r of relays) {
        await expect.poll(async () => (await fetch(`${r.url}/api/health`)).status, { timeout: 10_000 }).toBe(503);
      }
      await expect(connectDevice(b.url, phone)).rejects.toMatchObject({
        code: 'TESTKIT_UPGRADE_REFUSED',
        status: 503,
        body: { code: 'RELAY_ERR_STORE_UNAVAILABLE' },
      });
    });
    const s2 = await online(a.url, sidecar);
    const ph = await online(b.url, phone);
    s2.chat(phone.deviceId, 'after the outage');
    expect(decodePayload(await ph.next('chat'))).toBe('after the outage');
  }, 60_000);

  it('after a Redis outage, an instance that no longer holds a device drops its stale channel instead of echoing wake-ups', async () => {
    await startRelays(2);
    const [a, b] = relays as [TestRelay, TestRelay];
    const cli = (...args: string[]) => execFileSync('redis-cli', ['-p', new URL(redis.url).port, ...args]).toString();
    const channel = `oppie:dev:${sidecar.deviceId}`;
    const subscribers = () => Number(cli('pubsub', 'numsub', channel).trim().split('\n')[1]);
    const publishes = () => Number(/cmdstat_publish:calls=(\d+)/.exec(cli('info', 'commandstats'))?.[1] ?? 0);
    const s = await online(a.url, sidecar);
    // Closed while Redis is away: the first instance cannot unsubscribe now, and ioredis subscribes it again later.
    await throughOutage(async () => expect((await s.closed).code).toBe(4003));
    const back = await online(b.url, sidecar);
    const ph = await online(a.url, phone);
    const before = publishes();
    // Sent on the first instance: its wake-up reaches the second (which holds the sidecar) and the stale subscription.
    ph.chat(sidecar.deviceId, 'after the outage');
    expect(decodePayload(await back.next('chat'))).toBe('after the outage');
    await expect.poll(subscribers, { timeout: 5_000 }).toBe(1);
    const settled = publishes();
    await new Promise((r) => setTimeout(r, 500));
    // A wake-up echoed back and forth would publish without end: thousands by now.
    expect(publishes() - settled).toBeLessThan(10);
    expect(settled - before).toBeLessThan(50);
  }, 60_000);

  it('SDK clients on different instances: a Redis outage mid-stream loses and repeats nothing', async () => {
    await startRelays(2);
    const [a, b] = relays as [TestRelay, TestRelay];
    const { sidecar: sc, phone: pwa } = await pairedClients(a.url, { phone: { relayUrl: b.url } });
    open.push(sc, pwa);
    await pwa.connect();
    const N = 300;
    const atPhone: number[] = [];
    pwa.events.on('message', (m) => atPhone.push((m.payload as { n: number }).n));

    const sends: Array<Promise<void>> = [];
    const batch = (from: number) => {
      for (let n = from; n < from + N / 3; n++) sends.push(sc.send('chat', { n }));
    };
    batch(0);
    await expect.poll(() => atPhone.length, { timeout: 10_000 }).toBeGreaterThan(0);
    await redis.halt(); // mid-stream: part of the first third is still on its way
    batch(N / 3); // taken by the outbox while the relays refuse everything
    await new Promise((r) => setTimeout(r, 3000));
    await redis.resume();
    batch((2 * N) / 3);
    await Promise.all(sends);
    await expect.poll(() => atPhone.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(N);
    expect(atPhone).toEqual(Array.from({ length: N }, (_, i) => i));
  }, 90_000);
});
