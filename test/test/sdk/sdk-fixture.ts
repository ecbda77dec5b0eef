import { MemoryStore, OppieClient, type OppieClientOptions } from '@oppie/client-sdk';
import { startTestRelay, type TestRelay } from '@oppie/test-kit';
import { afterEach } from 'vitest';
import WebSocket from 'ws';

/** A client on the real relay, with `ws` as its WebSocket and in-memory (or given) storage. */
export function sdkClient(
  relayUrl: string,
  role: 'sidecar' | 'pwa',
  name: string,
  extra: Partial<OppieClientOptions> & { storage?: MemoryStore } = {},
): Promise<OppieClient> {
  const { storage, ...rest } = extra;
  return OppieClient.create({
    relayUrl,
    role,
    name,
    ...rest,
    platform: {
      WebSocket: WebSocket as unknown as NonNullable<NonNullable<OppieClientOptions['platform']>['WebSocket']>,
      storage: storage ?? new MemoryStore(),
      ...rest.platform,
    },
  });
}

type ClientExtra = Partial<OppieClientOptions> & { storage?: MemoryStore };

/** What a {@link tappedSocket} reports: each frame's text (or bytes) as it comes in or goes out, and a close. */
export interface SocketTap {
  readonly in?: (data: string) => void;
  readonly out?: (data: string) => void;
  readonly closed?: () => void;
}

/**
 * `ws` for an SDK client, telling `tap` of every frame, for tests that watch what a client puts on the wire.
 *
 * @example
 * const sidecar = await sdkClient(url, 'sidecar', 'workstation', { platform: { WebSocket: tappedSocket({ out }) } });
 */
export function tappedSocket(tap: SocketTap): NonNullable<OppieClientOptions['platform']>['WebSocket'] {
  return class extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      // The SDK sets `onmessage`; a listener of its own sees every frame too.
      this.on('message', (data) => tap.in?.(String(data)));
      this.on('close', () => tap.closed?.());
    }
    override send(data: unknown, ...rest: unknown[]): void {
      tap.out?.(String(data));
      (super.send as (...a: unknown[]) => void)(data, ...rest);
    }
  } as unknown as NonNullable<OppieClientOptions['platform']>['WebSocket'];
}

/** A sidecar and a phone paired end to end through the relay. */
export async function pairedClients(
  relayUrl: string,
  opts: { sidecarStore?: MemoryStore; phoneStore?: MemoryStore; sidecar?: ClientExtra; phone?: ClientExtra } = {},
) {
  const sidecar = await sdkClient(relayUrl, 'sidecar', 'workstation', {
    ...opts.sidecar,
    ...(opts.sidecarStore && { storage: opts.sidecarStore }),
  });
  await sidecar.register();
  await sidecar.connect();
  const offer = await sidecar.createPairing();
  const phone = await sdkClient(relayUrl, 'pwa', 'phone', {
    ...opts.phone,
    ...(opts.phoneStore && { storage: opts.phoneStore }),
  });
  const [phoneSide, sidecarSide] = await Promise.all([phone.pair(offer.link), offer.completed]);
  return { sidecar, phone, offer, phoneSide, sidecarSide };
}

/** Polls `check` every 20 ms until it gives a value; rejects after `ms` naming `what`. */
export function until<T>(what: string, ms: number, check: () => T | undefined): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const v = check();
      if (v !== undefined) return resolve(v);
      if (Date.now() - started > ms) return reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      setTimeout(tick, 20);
    };
    tick();
  });
}

/**
 * A relay per test and what the test opens on it, closed after each test (in the order opened, the relay last). Call
 * once at a test file's top level.
 */
export function perTest() {
  let relay: TestRelay | undefined;
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of closers.splice(0)) await c();
    await relay?.close();
    relay = undefined;
  });
  return {
    async relay(overrides: Parameters<typeof startTestRelay>[0] = {}): Promise<TestRelay> {
      relay = await startTestRelay(overrides);
      return relay;
    },
    /** Closes each of `things` after the test. */
    closing(...things: Array<{ close(): Promise<void> }>): void {
      for (const x of things) closers.push(() => x.close());
    },
    /** Runs each of `undo` after the test, before the relay closes. */
    defer(...undo: Array<() => Promise<void>>): void {
      closers.push(...undo);
    },
  };
}
