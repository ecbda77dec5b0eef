/**
 * @oppie/client-sdk: the isomorphic SDK a PWA (or any client) embeds to talk to its sidecar through Oppie Relay,
 * end-to-end encrypted, with lossless delivery.
 *
 * @example
 * import { OppieClient } from '@oppie/client-sdk';
 * const client = await OppieClient.create({ relayUrl: 'https://relay.example', role: 'pwa', name: 'phone' });
 * await client.pair(link);
 * client.events.on('progress', (m) => console.log(m.payload));
 * await client.send('chat', { text: 'hello' });
 */
export * from '@oppie/protocol';
export { CLOSE_DRAIN_MS, OppieClient, type OppieClientOptions } from './client.js';
export * from './crypto/index.js';
export {
  type Compression,
  DEFLATE_HUFFMAN_ABOVE,
  DEFLATE_PROBE_BYTES,
  DEFLATE_PROBE_FROM,
  type DeflateHints,
  isLowGain,
  LOW_GAIN_MAX_REPEATS,
  LOW_GAIN_MIN_BITS,
  mayBeLowGain,
  nodeCompression,
  probeOf,
  repeatedQuads,
  skipsLowGain,
  webCompression,
  type ZlibLike,
} from './delivery/compression.js';
export type { DirectOptions } from './direct/direct-paths.js';
export { OppieError, SDK_ERROR_CODES, type SdkErrorCode } from './errors.js';
export type { ClientEvents, ConnectionState, IncomingMessage, PeerInfo } from './events.js';
export {
  LOW_GAIN_COMPRESSION,
  LOW_GAIN_SKIP_MAX_BYTES,
  type LowGainCompression,
  type ReceiptOptions,
} from './messaging.js';
export * from './pairing/index.js';
export {
  defaultPlatform,
  type KeyValueStore,
  MemoryStore,
  type Platform,
  type RtcImplementation,
  runtimeTimers,
  type Timers,
  type WebSocketLike,
} from './platform.js';
export { exponentialBackoff, type ReconnectPolicy } from './reconnect.js';
