import { api, pairDevice } from '@oppie/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { type Pair, pairOnRelay } from './fixture.js';

let p: Pair | undefined;
afterEach(async () => {
  await p?.t.close();
  p = undefined;
});

const turnConfig = {
  stunUrls: 'stun:127.0.0.1:3478',
  turnUrls: 'turn:127.0.0.1:3478?transport=udp',
  turnSecrets: 'shared-with-coturn',
  turnTtlSeconds: 300,
};

describe('ICE servers and transport reports', () => {
  it('delivers minted TURN credentials in the welcome and at /api/turn/credentials', async () => {
    p = await pairOnRelay(turnConfig);
    const ph = await p.connect(p.phone);
    const welcome = ph.welcome;
    expect(welcome?.iceServers[0]).toEqual({ urls: ['stun:127.0.0.1:3478'] });
    const turn = welcome?.iceServers[1];
    expect(turn?.username).toMatch(new RegExp(`^\\d+:${p.phone.deviceId}$`));
    expect((welcome?.iceExpiresAt ?? 0) - Date.now()).toBeGreaterThan(250_000);
    const res = await api<{ iceServers: Array<{ username?: string }> }>(
      p.t.url,
      'GET',
      '/api/turn/credentials',
      undefined,
      {
        token: p.sidecar.token,
      },
    );
    expect(res.status).toBe(200);
    expect(res.body.iceServers[1]?.username).toMatch(new RegExp(`:${p.sidecar.deviceId}$`));
    const anon = await api<{ code: string }>(p.t.url, 'GET', '/api/turn/credentials');
    expect(anon.status).toBe(401);
    expect(anon.body.code).toBe('RELAY_ERR_TOKEN_MISSING');
  });

  it('turns transport reports into path metrics and the session path', async () => {
    p = await pairOnRelay();
    const ph = await p.connect(p.phone);
    const sc = await p.connect(p.sidecar);
    ph.send({
      type: 'transport',
      id: 'tr1',
      timestamp: Date.now(),
      payload: {
        peer: p.sidecar.deviceId,
        path: 'direct',
        outcome: 'upgraded',
        setupMs: 180,
        bytesSent: 1000,
        bytesReceived: 500,
      },
    });
    // The sidecar's report of the same channel (its bytes sent are the phone's bytes received; the outcome counts
    // once, from whichever of the two dials).
    sc.send({
      type: 'transport',
      id: 'tr1s',
      timestamp: Date.now(),
      payload: {
        peer: p.phone.deviceId,
        path: 'direct',
        outcome: 'upgraded',
        setupMs: 180,
        bytesSent: 500,
        bytesReceived: 1000,
      },
    });
    await new Promise((r) => setTimeout(r, 1200)); // gauges refresh on the 1 s tick
    const metrics = await (await fetch(`${p.t.url}/api/metrics`)).text();
    expect(metrics).toMatch(/oppie_relay_transport_reports_total\{path="direct",outcome="upgraded"\} 1/);
    expect(metrics).toMatch(/oppie_relay_upgrade_setup_seconds_count\{path="direct"\} 1/);
    // Each byte once: 1,000 one way and 500 the other, though both ends reported both directions.
    expect(metrics).toMatch(/oppie_relay_path_bytes_total\{path="direct"\} 1500\n/);
    expect(metrics).toMatch(/oppie_relay_fallback_ratio 0\n/);
    const sessions = await api<{ sessions: Array<{ deviceId: string; path: string }> }>(
      p.t.url,
      'GET',
      '/api/sessions',
      undefined,
      {
        token: p.phone.token,
      },
    );
    expect(sessions.body.sessions.find((s) => s.deviceId === p?.phone.deviceId)?.path).toBe('direct');
    ph.send({
      type: 'transport',
      id: 'tr2',
      timestamp: Date.now(),
      payload: { peer: 'AAAAAAAAAAAAAAAAAAAAAA', path: 'turn' },
    });
    expect((await ph.errorFor('tr2')).payload.code).toBe('RELAY_ERR_RECIPIENT_FORBIDDEN');
  });

  it("counts each attempt once, refuses reports that would poison the metrics, and drops a revoked peer's path", async () => {
    p = await pairOnRelay();
    const ph = await p.connect(p.phone);
    const sc = await p.connect(p.sidecar);
    const [dialer, answerer] = p.phone.deviceId < p.sidecar.deviceId ? [ph, sc] : [sc, ph];
    const peerOf = (c: typeof ph) => (c === ph ? p?.sidecar.deviceId : p?.phone.deviceId) as string;
    let n = 0;
    const report = (from: typeof ph, payload: Record<string, unknown>) => {
      const id = `r${++n}`;
      from.send({ type: 'transport', id, timestamp: Date.now(), payload: { peer: peerOf(from), ...payload } });
      return id;
    };
    // Both ends say the attempt upgraded: one count, from the dialing side. An upgrade to the relay is no upgrade.
    report(dialer, { path: 'direct', outcome: 'upgraded', setupMs: 100 });
    report(answerer, { path: 'direct', outcome: 'upgraded', setupMs: 100 });
    report(dialer, { path: 'relay', outcome: 'upgraded', setupMs: 100 });
    report(dialer, { path: 'direct' });
    // About itself, or a count that would turn the counter into +Inf: refused, nothing counted.
    const self = `r${++n}`;
    ph.send({ type: 'transport', id: self, timestamp: Date.now(), payload: { peer: p.phone.deviceId, path: 'turn' } });
    expect((await ph.errorFor(self)).payload.code).toBe('RELAY_ERR_RECIPIENT_FORBIDDEN');
    const huge = report(ph, { path: 'direct', bytesSent: 1e308 });
    expect((await ph.errorFor(huge)).payload.code).toBe('RELAY_ERR_ENVELOPE_INVALID');
    // What the relay itself carries counts under `relay`.
    const chat = sc.routed('chat', p.phone.deviceId, 'x');
    await sc.ackFor(chat.id);
    await new Promise((r) => setTimeout(r, 1200)); // gauges refresh on the 1 s tick
    let metrics = await (await fetch(`${p.t.url}/api/metrics`)).text();
    expect(metrics).toMatch(/oppie_relay_transport_reports_total\{path="direct",outcome="upgraded"\} 1\n/);
    expect(metrics).not.toMatch(/outcome="upgraded"\} [^1]/);
    expect(metrics).toMatch(/oppie_relay_upgrade_setup_seconds_count\{path="direct"\} 1\n/);
    expect(metrics).not.toMatch(/oppie_relay_upgrade_setup_seconds_count\{path="relay"\}/);
    expect(metrics).not.toMatch(/path_bytes_total\{path="direct"\}/);
    expect(Number(/oppie_relay_path_bytes_total\{path="relay"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect(metrics).toMatch(/oppie_relay_sessions_by_path\{path="direct"\} 1\n/);
    // The phone is revoked: the sidecar's channel to it is gone, whatever its last report said.
    const res = await api(p.t.url, 'DELETE', `/api/auth/devices/${p.phone.deviceId}`, undefined, {
      token: p.sidecar.token,
    });
    expect(res.status).toBe(204);
    await new Promise((r) => setTimeout(r, 1200));
    metrics = await (await fetch(`${p.t.url}/api/metrics`)).text();
    expect(metrics).toMatch(/oppie_relay_sessions_by_path\{path="direct"\} 0\n/);
    expect(metrics).toMatch(/oppie_relay_sessions_by_path\{path="relay"\} 0\n/);
    expect(metrics).toMatch(/oppie_relay_fallback_ratio 0\n/);
  });

  it('counts live sessions by the path their dialing device reports, never a device whose peer is offline', async () => {
    p = await pairOnRelay();
    const sessions = async () => {
      const text = await (await fetch(`${p?.t.url}/api/metrics`)).text();
      const n = (path: string) =>
        Number(new RegExp(`^oppie_relay_sessions_by_path\\{path="${path}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
      return {
        relay: n('relay'),
        turn: n('turn'),
        direct: n('direct'),
        ratio: Number(/^oppie_relay_fallback_ratio (\S+)$/m.exec(text)?.[1]),
      };
    };
    // A workstation whose phone is asleep is no fallback: nothing to upgrade to.
    const sc = await p.connect(p.sidecar);
    expect(await sessions()).toEqual({ relay: 0, turn: 0, direct: 0, ratio: 0 });
    // Two phones and a workstation are two sessions, not three: a session pairs a PWA with a sidecar.
    const phone2 = await pairDevice(p.t.url, p.sidecar.token, 'phone 2');
    const ph = await p.connect(p.phone);
    expect(await sessions()).toEqual({ relay: 1, turn: 0, direct: 0, ratio: 1 });
    const ph2 = await p.connect(phone2);
    expect(await sessions()).toEqual({ relay: 2, turn: 0, direct: 0, ratio: 1 });
    const dialerOf = (phoneConn: typeof ph, phoneId: string) =>
      phoneId < (p?.sidecar.deviceId as string)
        ? { dialer: phoneConn, answerer: sc, peerOfDialer: p?.sidecar.deviceId as string, peerOfAnswerer: phoneId }
        : { dialer: sc, answerer: phoneConn, peerOfDialer: phoneId, peerOfAnswerer: p?.sidecar.deviceId as string };
    const one = dialerOf(ph, p.phone.deviceId);
    let n = 0;
    const report = async (from: typeof ph, peer: string, path: string) => {
      const id = `s${++n}`;
      from.send({ type: 'transport', id, timestamp: Date.now(), payload: { peer, path } });
      // A routed chat after it on the same socket: once it is acknowledged, the report was handled.
      const chat = from.routed('chat', peer, 'after the report');
      await from.ackFor(chat.id);
    };
    // The answering side's word alone moves nothing: the dialing side speaks for the session.
    await report(one.answerer, one.peerOfAnswerer, 'direct');
    expect(await sessions()).toEqual({ relay: 2, turn: 0, direct: 0, ratio: 1 });
    await report(one.dialer, one.peerOfDialer, 'direct');
    expect(await sessions()).toEqual({ relay: 1, turn: 0, direct: 1, ratio: 0.5 });
    const two = dialerOf(ph2, phone2.deviceId);
    await report(two.dialer, two.peerOfDialer, 'turn');
    expect(await sessions()).toEqual({ relay: 0, turn: 1, direct: 1, ratio: 0 });
    // The phone goes offline: its session ends, whatever was reported about it.
    await ph.close();
    for (let i = 0; i < 50 && (await sessions()).direct !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await sessions()).toEqual({ relay: 0, turn: 1, direct: 0, ratio: 0 });
  });
});
