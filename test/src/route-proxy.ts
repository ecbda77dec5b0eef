/**
 * A TCP proxy on 127.0.0.1 that plays a network route going bad under live connections: `freeze()` silences the
 * connections open now without closing them (a dead route: nothing arrives, no close either), `cut()` resets them,
 * `hangNew(true)` accepts new connections and never answers them, `refuseNew(true)` resets them at once.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface RouteProxy {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly port: number;
  freeze(): void;
  cut(): void;
  hangNew(on: boolean): void;
  refuseNew(on: boolean): void;
  close(): Promise<void>;
}

/**
 * @example
 * const proxy = await startRouteProxy(redisPort);
 * const relay = await startTestRelay({ redisUrl: `redis://127.0.0.1:${proxy.port}` });
 * proxy.refuseNew(true);
 * proxy.cut(); // the relay's link to Redis drops, and cannot come back until refuseNew(false)
 */
export async function startRouteProxy(port: number): Promise<RouteProxy> {
  const frozen = new WeakSet<Socket>();
  const live = new Set<Socket>();
  let hanging = false;
  let refusing = false;
  const track = (s: Socket) => {
    live.add(s);
    s.on('close', () => live.delete(s));
    s.on('error', () => {});
  };
  const server: Server = createServer((client) => {
    if (refusing) {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    track(client);
    if (hanging) return;
    const upstream = connect(port, '127.0.0.1');
    track(upstream);
    client.on('data', (d) => (frozen.has(client) ? undefined : upstream.write(d)));
    upstream.on('data', (d) => (frozen.has(client) ? undefined : client.write(d)));
    // Over a dead route the far end's close never arrives either.
    client.on('close', () => (frozen.has(client) ? undefined : upstream.destroy()));
    upstream.on('close', () => (frozen.has(client) ? undefined : client.destroy()));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    freeze: () => {
      for (const s of live) frozen.add(s);
    },
    cut: () => {
      for (const s of [...live]) s.destroy();
    },
    hangNew: (on) => {
      hanging = on;
    },
    refuseNew: (on) => {
      refusing = on;
    },
    close: async () => {
      for (const s of [...live]) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
