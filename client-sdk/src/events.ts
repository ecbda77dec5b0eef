import type { ApplicationType, PathName, UpgradeOutcome } from '@oppie/protocol';
import type { OppieError } from './errors.js';

/** Connection lifecycle: one field, changed in one place (Connection.setState). */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/** An application message delivered exactly once, in order, from a paired peer. */
export interface IncomingMessage {
  readonly type: ApplicationType;
  readonly from: string;
  readonly id: string;
  readonly payload: unknown;
}

export interface PeerInfo {
  readonly deviceId: string;
  readonly name: string;
  readonly role: 'sidecar' | 'pwa';
  /** Ed25519 public key, base64url. */
  readonly publicKey: string;
}

/**
 * Every event the client emits, typed for mitt.
 *
 * @example
 * client.events.on('progress', (m) => render(m.payload));
 * client.events.on('state', ({ from, to }) => console.log(from, '->', to));
 */
export type ClientEvents = {
  message: IncomingMessage;
  runPlan: IncomingMessage;
  chat: IncomingMessage;
  progress: IncomingMessage;
  diff: IncomingMessage;
  recover: IncomingMessage;
  approve: IncomingMessage;
  state: { from: ConnectionState; to: ConnectionState };
  peer: { deviceId: string; online: boolean };
  paired: PeerInfo & { sas: string };
  /** The transport frames to `peer` use now; every client starts on `relay`. `relayProtocol` is set for TURN. */
  path: { peer: string; path: PathName; relayProtocol?: 'udp' | 'tcp' | 'tls' };
  /** How an attempt at the direct path ended (`upgraded`, or why not). */
  upgrade: { peer: string; outcome: UpgradeOutcome; setupMs: number };
  transfer: { peer: string; id: string; direction: 'in' | 'out'; done: number; total: number };
  error: OppieError;
};
