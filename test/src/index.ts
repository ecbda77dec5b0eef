/**
 * @oppie/test-kit: an in-process relay and raw-protocol devices for tests. It speaks the wire protocol directly (no
 * SDK), so relay tests exercise exactly what goes over the socket.
 *
 * @example
 * const t = await startTestRelay();
 * const sidecar = await registerDevice(t.url, 'workstation');
 * const phone = await pairDevice(t.url, sidecar.token, 'phone');
 * const s = await connectDevice(t.url, sidecar, { autoAck: true });
 * const p = await connectDevice(t.url, phone, { autoAck: true });
 * const sent = p.chat(sidecar.deviceId, 'hello');
 * await s.next('chat', (f) => f.id === sent.id);
 */
export { type ConnectedSocket, type ConnectOptions, connectDevice, sessionUrl } from './connect.js';
export {
  createPairingCode,
  type DeviceCallOptions,
  type DeviceKey,
  freshProof,
  generateDeviceKey,
  getChallenge,
  type PairedDevice,
  pairDevice,
  refreshToken,
  registerDevice,
  signProof,
  type TestDevice,
} from './devices.js';
export { decodePayload, deviceAck, encodePayload, type RoutedExtra, routedEnvelope, uniqueId } from './envelopes.js';
export { asErrorBody, type RelayErrorBody, TestKitError, type TestKitErrorCode } from './errors.js';
export { type FaultPlan, type FaultProxy, seededRandom, startFaultProxy } from './fault-proxy.js';
export { describeFrame, type Frame, type FrameOf, type Received } from './frames.js';
export {
  type Haproxy,
  type HaproxyBackend,
  haproxyConfig,
  hasHaproxy,
  type StartHaproxyOptions,
  startHaproxy,
} from './haproxy.js';
export { type ApiOptions, type ApiResponse, api, apiOk } from './http.js';
export {
  commandErrorText,
  deleteNamespace,
  listNamespaces,
  removeStaleNamespaces,
  runCommand,
} from './netns.js';
export { type PageHandler, type PageServer, startPageProxy } from './page-proxy.js';
export { processAlive } from './process-alive.js';
export {
  type PushAnswer,
  type ReceivedPush,
  selfSignedCertificate,
  startPushService,
  type TestPushService,
} from './push-service.js';
export {
  freePort,
  hasRedis,
  pingRedis,
  type RedisServer,
  startRedisProcess,
  startTestRedis,
  stopRedisProcess,
} from './redis.js';
export { type RelayOverrides, type StartTestRelayOptions, startTestRelay, type TestRelay } from './relay.js';
export { RELAY_MAIN, type RelayProcess, type StartRelayProcessOptions, startRelayProcess } from './relay-process.js';
export { requireBinary } from './require-binary.js';
export { type RouteProxy, startRouteProxy } from './route-proxy.js';
export { type CloseInfo, type FramePredicate, TestSocket } from './socket.js';
export { type Direction, startWsMitm, type Tamper, type WsMitm } from './ws-mitm.js';
