import { api } from '@oppie/test-kit';
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
    await p.connect(p.sidecar);
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
    await new Promise((r) => setTimeout(r, 1200)); // gauges refresh on the 1 s tick
    const metrics = await (await fetch(`${p.t.url}/api/metrics`)).text();
    expect(metrics).toMatch(/oppie_relay_transport_reports_total\{path="direct",outcome="upgraded"\} 1/);
    expect(metrics).toMatch(/oppie_relay_upgrade_setup_seconds_count\{path="direct"\} 1/);
    expect(metrics).toMatch(/oppie_relay_path_bytes_total\{path="direct"\} 1500/);
    expect(metrics).toMatch(/oppie_relay_fallback_ratio 0.5/);
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
});
