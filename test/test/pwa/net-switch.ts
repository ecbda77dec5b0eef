/**
 * A TCP forwarder in front of the relay that the test can cut, as a phone's network loss does. Chromium's emulated
 * offline mode (`context.setOffline`) leaves an open WebSocket alone (and may hold back its close), while a phone that
 * loses its network loses the connection too. `down()` plays that part: every connection cut, new ones refused.
 */
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';

export interface NetSwitch {
  /** `http://127.0.0.1:PORT`, forwarding to the relay. */
  readonly url: string;
  /** Destroys every connection through the switch (both sides) and refuses new ones until `up()`. Returns the count cut. */
  down(): number;
  up(): void;
  close(): Promise<void>;
}

/**
 * @example
 * const net = await startNetSwitch(relay.url);
 * net.down(); await context.setOffline(true);
 * // ...
 * net.up(); await context.setOffline(false);
 */
export async function startNetSwitch(relayUrl: string): Promise<NetSwitch> {
  const target = new URL(relayUrl);
  const live = new Set<Socket>();
  let isDown = false;
  const server = createServer((down) => {
    if (isDown) {
      down.destroy();
      return;
    }
    const up = connect(Number(target.port), target.hostname);
    for (const s of [down, up]) {
      live.add(s);
      s.setNoDelay(true);
      s.on('close', () => live.delete(s));
      s.on('error', () => {}); // a cut shows as ECONNRESET on the other side: expected here
    }
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    down: () => {
      isDown = true;
      const n = live.size;
      for (const s of live) s.destroy();
      return n;
    },
    up: () => {
      isDown = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of live) s.destroy();
        server.close(() => resolve());
      }),
  };
}
