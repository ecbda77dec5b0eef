import { type DirectOptions, OppieClient } from '@oppie/client-sdk';
import { watchNetwork } from './network-watch.js';
import { nodePlatform } from './node-platform.js';

export interface SidecarOptions {
  /** The relay's base URL, `http(s)://host:port`. */
  readonly relayUrl: string;
  /** This workstation's name, shown on the paired phones. */
  readonly name: string;
  /** Where the identity, tokens, pairings and outbox live (mode 0700). */
  readonly dataDir: string;
  /** Needed on first run when the relay requires enrollment. */
  readonly enrollmentToken?: string;
  /** The WebRTC direct path (through `@roamhq/wrtc`); `{ enabled: false }` keeps everything on the relay. */
  readonly direct?: DirectOptions;
}

/**
 * Creates the sidecar's client: loads (or on first run creates) the device identity from `dataDir` and registers
 * the device with the relay once. Connect it afterwards.
 *
 * @example
 * const client = await createSidecar({ relayUrl: 'http://127.0.0.1:8080', name: 'workstation', dataDir: '/home/me/.oppie-sidecar' });
 * client.events.on('runPlan', (m) => startPlan(m.payload));
 * await client.connect();
 * await client.send('progress', { step: 1, of: 3 });
 */
export async function createSidecar(opts: SidecarOptions): Promise<OppieClient> {
  if (typeof opts?.relayUrl !== 'string' || !/^https?:\/\/[^/]/.test(opts.relayUrl)) {
    throw new TypeError('createSidecar: relayUrl must be an http(s):// URL');
  }
  if (typeof opts.name !== 'string' || opts.name.trim() === '') throw new TypeError('createSidecar: name must be set');
  const client = await OppieClient.create({
    relayUrl: opts.relayUrl,
    role: 'sidecar',
    name: opts.name,
    platform: nodePlatform({ dataDir: opts.dataDir }),
    ...(opts.direct !== undefined && { direct: opts.direct }),
  });
  await client.register(opts.enrollmentToken === undefined ? {} : { enrollmentToken: opts.enrollmentToken });
  // A new network means new addresses: check the relay connection now and start the direct path over. Watched while
  // the client may connect: from a close (given up, replaced, closed by the app) until it connects again.
  const watch = () => watchNetwork(() => client.networkChanged());
  let stop: (() => void) | undefined = watch();
  client.events.on('state', ({ to }) => {
    if (to === 'closed') {
      stop?.();
      stop = undefined;
    } else stop ??= watch();
  });
  return client;
}
