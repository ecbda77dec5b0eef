/** The SDK clients the benches make: what a Node sidecar gets from sidecar-sdk's nodePlatform, on a given store. */
import {
  type KeyValueStore,
  type LowGainCompression,
  OppieClient,
  type OppieClientOptions,
  type ReceiptOptions,
  type RtcImplementation,
} from '@oppie/client-sdk';
import WebSocket from 'ws';
import { type BenchCompression, benchCompression } from './bench-compression.js';
import { frameCryptoOf } from './frame-backend.js';

export interface BenchClientOptions {
  /** WebRTC for the direct path; without it the client stays on the relay. */
  readonly rtc?: RtcImplementation | undefined;
  readonly receipts?: ReceiptOptions | undefined;
  /** Default `zlib`: sidecar-sdk's deflate thread. */
  readonly compression?: BenchCompression;
  /** Default `auto`. */
  readonly lowGain?: LowGainCompression;
}

/**
 * A client of `role` on `storage`, with native libsodium frames and the bench's compression.
 *
 * @example
 * const sidecar = await benchClient(relay.url, 'sidecar', new FileStore(dir));
 */
export function benchClient(
  url: string,
  role: 'sidecar' | 'pwa',
  storage: KeyValueStore,
  opts: BenchClientOptions = {},
): Promise<OppieClient> {
  return OppieClient.create({
    ...(opts.receipts !== undefined && { receipts: opts.receipts }),
    lowGainCompression: opts.lowGain ?? 'auto',
    relayUrl: url,
    role,
    name: `bench-${role}`,
    platform: {
      WebSocket: WebSocket as unknown as NonNullable<OppieClientOptions['platform']>['WebSocket'],
      storage,
      // What a Node sidecar gets from sidecar-sdk's nodePlatform.
      frameCrypto: frameCryptoOf('sidecar'),
      compression: benchCompression(opts.compression ?? 'zlib'),
      rtc: opts.rtc,
    },
  });
}
