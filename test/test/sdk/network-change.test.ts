/**
 * A network change under an open relay connection, with real sockets: the connection's route is gone but nothing
 * closed it (a TCP proxy on 127.0.0.1 that stops forwarding the connections it holds, as a dead route does), so only
 * a ping can tell. `networkChanged()` asks at once and reconnects within seconds instead of a heartbeat cycle later.
 */
import { type ConnectionState, MemoryStore } from '@oppie/client-sdk';
import { startRouteProxy } from '@oppie/test-kit';
import { describe, expect, it } from 'vitest';
import { pairedClients, perTest, sdkClient, until } from './sdk-fixture.js';

const env = perTest();

/** A paired sidecar on the relay and its phone connected through a freezable proxy (the sidecar's link stays up). */
async function phoneBehindProxy(overrides: Parameters<typeof env.relay>[0] = {}) {
  const t = await env.relay(overrides);
  const proxy = await startRouteProxy(Number(new URL(t.url).port));
  env.closing(proxy);
  const phoneStore = new MemoryStore();
  const paired = await pairedClients(t.url, { phoneStore });
  const sidecar = paired.sidecar;
  await paired.phone.close();
  const phone = await sdkClient(proxy.url, 'pwa', 'phone', { storage: phoneStore });
  env.closing(sidecar, phone);
  await phone.connect();
  return { proxy, sidecar, phone };
}

describe('a network change', () => {
  it('finds a dead relay connection by a ping at once and reconnects, without waiting for the heartbeat', async () => {
    const { proxy, sidecar, phone } = await phoneBehindProxy();
    const states: ConnectionState[] = [];
    phone.events.on('state', (e) => states.push(e.to));
    proxy.freeze();
    phone.networkChanged();
    // The default heartbeat (15 s, then 15 s for its pong) would take up to 30 s to notice.
    await until('a new relay connection', 6_000, () => (states.includes('open') ? true : undefined));
    expect(states[0]).toBe('reconnecting');
    // And it carries messages again.
    const got = new Promise<unknown>((resolve) => sidecar.events.on('chat', (m) => resolve(m.payload)));
    await phone.send('chat', { text: 'after the change' });
    expect(await got).toEqual({ text: 'after the change' });
  });

  it('recycles a connection whose heartbeat goes unanswered at once, without waiting for its close handshake', async () => {
    const { proxy, phone } = await phoneBehindProxy({ heartbeatSeconds: 1 });
    const states: ConnectionState[] = [];
    phone.events.on('state', (e) => states.push(e.to));
    proxy.freeze();
    // A ping each second, recycled a second later; a close handshake over the dead route would take 30 s more.
    await until('a new relay connection', 6_000, () => (states.includes('open') ? true : undefined));
    expect(states[0]).toBe('reconnecting');
  });

  it('starts a reconnect attempt over when the network changes while it hangs on the old route', async () => {
    const { proxy, phone } = await phoneBehindProxy();
    const states: ConnectionState[] = [];
    phone.events.on('state', (e) => states.push(e.to));
    proxy.freeze();
    proxy.hangNew(true);
    phone.networkChanged();
    await until('reconnecting', 6_000, () => (states.includes('reconnecting') ? true : undefined));
    // Its attempt (token request or socket) now hangs in the proxy; a second change comes with a working route.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(phone.state).toBe('reconnecting');
    proxy.hangNew(false);
    phone.networkChanged();
    // Without starting over it would wait for the attempt's own timeouts (10 s for a welcome, 15 s for a request).
    await until('a new relay connection', 4_000, () => (states.includes('open') ? true : undefined));
  });

  it('leaves a live relay connection alone', async () => {
    const t = await env.relay();
    const { sidecar, phone } = await pairedClients(t.url);
    env.closing(sidecar, phone);
    const states: ConnectionState[] = [];
    phone.events.on('state', (e) => states.push(e.to));
    phone.networkChanged();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(states).toEqual([]);
    expect(phone.state).toBe('open');
  });
});
