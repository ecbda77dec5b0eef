import type { ApplicationType } from '@oppie/protocol';

/** A message from a paired peer, as the client emits it. */
export interface BridgeMessage {
  readonly type: string;
  readonly from: string;
  readonly id: string;
  readonly payload: unknown;
  /** May have been handed over before a restart: see `IncomingMessage.redelivered` in the client SDK. */
  readonly redelivered?: true;
}

/**
 * What the IPC bridge needs from a client; `OppieClient` fits it.
 *
 * @example
 * const client: BridgeClient = await createSidecar({ relayUrl, name: 'workstation', dataDir });
 */
export interface BridgeClient {
  send(type: ApplicationType, payload: unknown, opts?: { to?: string }): Promise<void>;
  readonly events: {
    on(type: 'message', handler: (message: BridgeMessage) => void): void;
    off(type: 'message', handler: (message: BridgeMessage) => void): void;
  };
}
