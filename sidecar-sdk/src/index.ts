/**
 * @oppie/sidecar-sdk: the Node SDK a sidecar daemon embeds. It gives the client SDK its Node platform (`ws`, a file
 * store), creates and registers the sidecar's client, and bridges local MeshAdapter processes to the paired devices
 * over a Unix socket speaking JSON lines.
 *
 * @example
 * import { createSidecar, IpcBridge } from '@oppie/sidecar-sdk';
 * const client = await createSidecar({ relayUrl: 'http://127.0.0.1:8080', name: 'workstation', dataDir: '/home/me/.oppie-sidecar' });
 * const bridge = new IpcBridge({ path: '/home/me/.oppie-sidecar/ipc.sock', client });
 * await bridge.listen();
 * await client.connect();
 */
export * from '@oppie/protocol';
export { type CliIo, runCli, USAGE } from './cli.js';
export type { CliClient, CliContext } from './cli-commands.js';
export {
  DEFLATE_THREAD_MAX_PENDING_BYTES,
  DEFLATE_THREAD_SOURCE,
  DeflateThread,
  type DeflateThreadStats,
  sharedDeflateThread,
  workerCompression,
} from './deflate-thread.js';
export { IPC_ERROR_CODES, IpcError, type IpcErrorCode } from './errors.js';
export { decodeKey, encodeKey, FileStore, MAX_ENCODED_KEY_LENGTH } from './file-store.js';
export {
  type HeapTuning,
  type HeapTuningOptions,
  MAX_HEAP_GROWING_PERCENT,
  STREAMING_HEAP_GROWING_PERCENT,
  tuneHeapForStreaming,
} from './heap-tuning.js';
export { type BridgeClient, type BridgeMessage, IpcBridge, type IpcBridgeOptions } from './ipc-bridge.js';
export { type IpcRequest, LineSplitter, type ParseResult, parseRequest, type SplitItem } from './ipc-lines.js';
export { watchNetwork } from './network-watch.js';
export { nodeFrameCryptoBest } from './node-frame-crypto.js';
export { DEFAULT_MAX_PAYLOAD, type NodePlatformOptions, NodeWebSocket, nodePlatform } from './node-platform.js';
export { loadNodeRtc } from './node-rtc.js';
export { createSidecar, type SidecarOptions } from './sidecar.js';
export { listenUnix } from './unix-socket.js';
