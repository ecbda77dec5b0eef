import type { ApplicationType, PathName, UpgradeOutcome } from '@oppie/protocol';
import type { OppieError } from './errors.js';

/** Connection lifecycle: one field, changed in one place (Connection.setState). */
export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

/**
 * An application message from a paired peer, delivered in order and once per process lifetime.
 *
 * Across a crash or page reload nothing is lost, and at most the messages being handed over at that moment come
 * again, marked `redelivered` (the SDK stores its position after your handler ran, never before: see docs). Handlers
 * that are not idempotent check `id` when `redelivered` is set.
 *
 * @example
 * client.events.on('message', (m) => {
 *   if (m.redelivered && seen.has(m.id)) return; // handled before the reload
 *   seen.add(m.id);
 *   show(m);
 * });
 */
export interface IncomingMessage {
  readonly type: ApplicationType;
  readonly from: string;
  /** The sender's message id, stable across resends and restarts: the key for de-duplication. */
  readonly id: string;
  readonly payload: unknown;
  /**
   * Set on the first messages from a peer after the client started: your handler may have seen them before a
   * crash or reload (the SDK cannot tell whether the process died before or after handing them over).
   */
  readonly redelivered?: true;
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
  /** A device of the account came or went; `revoked` when it was revoked (its data channel is closed). */
  peer: { deviceId: string; online: boolean; revoked?: true };
  paired: PeerInfo & { sas: string };
  /**
   * The transport frames to `peer` use now; every client starts on `relay`. `relayProtocol` is set for TURN; `lan`
   * for a direct path: whether it stays within a local network (both ends of the pair host or peer-reflexive
   * candidates on private, link-local or loopback addresses, not through a NAT), as this side's stats say when the
   * channel opens. Before it leaves a large message undeflated on such a path (`lowGainCompression`), the SDK reads
   * the pair again when its last reading is over a second old, and a pair that has moved off is deflated for from
   * then on (no new event).
   */
  path: { peer: string; path: PathName; relayProtocol?: 'udp' | 'tcp' | 'tls'; lan?: boolean };
  /** How an attempt at the direct path ended (`upgraded`, or why not). */
  upgrade: { peer: string; outcome: UpgradeOutcome; setupMs: number };
  transfer: { peer: string; id: string; direction: 'in' | 'out'; done: number; total: number };
  error: OppieError;
};
