/**
 * @oppie/relay: the Oppie cloud relay as a library (the `oppie-relay` command wraps it).
 *
 * @example
 * import { createRelay, loadConfig } from '@oppie/relay';
 * const relay = await createRelay({ config: loadConfig(process.env) });
 * await relay.start();
 */
export { type Audit, type AuditEvent, createAudit } from './audit.js';
export type { AuthService, DeviceClaims, DeviceRecord } from './auth/types.js';
export { ConfigError, configTable, loadConfig, OPTIONS, type RelayConfig } from './config.js';
export { createMetrics, type Metrics } from './metrics.js';
export { createRelay, type Relay, type RelayOptions } from './relay.js';
export { type IceServer, iceServersFor, turnCredential } from './turn/credentials.js';
export { VERSION } from './version.js';
