/**
 * What relay instances share about live connections: which instance holds which device (presence), a wake-up for
 * the instance holding a device whose queue grew elsewhere (one hop), the newest-connection-wins rule across
 * instances, and events (presence, revocation, new device, ids to forget) that every instance must apply to its own
 * sockets and de-duplication window. The embedded relay is one instance and needs none of it (`SingleInstance`);
 * `RedisCluster` is the scale-out implementation.
 */
import type { PathName, RoleName } from '@oppie/protocol';

/** Where a device is connected. */
export interface DeviceLocation {
  readonly instance: string;
  readonly connectionId: string;
  readonly path: PathName;
  readonly connectedAt: number;
}

/** Events every instance applies to the sockets it holds. */
export type ClusterEvent =
  | { readonly kind: 'presence'; readonly accountId: string; readonly deviceId: string; readonly online: boolean }
  | { readonly kind: 'revoked'; readonly accountId: string; readonly deviceId: string }
  | {
      readonly kind: 'deviceAdded';
      readonly accountId: string;
      readonly deviceId: string;
      readonly role: RoleName;
      readonly name: string;
    }
  /**
   * Envelope ids of `senderId` reported dropped or expired: every instance forgets them in its de-duplication window,
   * so the sender's resend is taken as new wherever it lands (the window is per instance; the drop may have happened
   * on an instance the sender never talked to).
   */
  | { readonly kind: 'forget'; readonly senderId: string; readonly ids: readonly string[] };

/** What an instance does when the others tell it something. */
export interface ClusterHandlers {
  /**
   * The queue of a device grew on another instance: deliver it if it is held here. Returns whether it is; false
   * tells the cluster its subscription to that device is stale. Must never wake another instance: every instance
   * still subscribed to the device would get that wake-up too and answer it the same way, without end.
   */
  wake(deviceId: string): boolean;
  /** A newer connection of a device held here opened on another instance (`connectionId` is the new one). */
  replaced(deviceId: string, connectionId: string): void;
  /** An event published by another instance. */
  event(e: ClusterEvent): void;
  /** The shared store went away (`false`) or came back (`true`). */
  availability(up: boolean): void;
}

export interface Cluster {
  /** This instance's id (random per process start). */
  readonly instanceId: string;
  /** Whether several instances may share the stores; false for the embedded relay. */
  readonly shared: boolean;
  /** Whether the shared store is reachable now (always true for the embedded relay). */
  readonly available: boolean;
  start(handlers: ClusterHandlers): Promise<void>;
  /** A device's connection opened here: record its location and tell an older connection elsewhere to close. */
  attach(deviceId: string, location: DeviceLocation): Promise<void>;
  /** A connection closed: forget the location if it is still this connection's. */
  detach(deviceId: string, connectionId: string): Promise<void>;
  /** Keeps the locations of the connections held here alive (their path too); run on every heartbeat sweep. */
  refresh(held: ReadonlyArray<readonly [string, DeviceLocation]>): Promise<void>;
  /** Locations of the devices connected on any instance, among `deviceIds`. */
  locate(deviceIds: readonly string[]): Promise<Map<string, DeviceLocation>>;
  /**
   * Asks whichever instance holds `deviceId` to deliver its queue; resolves true when one does (it got the
   * message), false when none does or the message could not be sent (never rejects).
   */
  wake(deviceId: string): Promise<boolean>;
  /** Sends an event to every other instance. */
  publish(e: ClusterEvent): void;
  /** Throws when the shared store is not usable (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The embedded relay: one process holds every connection, so there is nobody to tell.
 *
 * @example
 * const cluster = new SingleInstance();
 * await cluster.start(handlers); // never calls them
 */
export class SingleInstance implements Cluster {
  readonly instanceId = 'embedded';
  readonly shared = false;
  readonly available = true;
  async start(): Promise<void> {}
  async attach(): Promise<void> {}
  async detach(): Promise<void> {}
  async refresh(): Promise<void> {}
  async locate(): Promise<Map<string, DeviceLocation>> {
    return new Map();
  }
  async wake(): Promise<boolean> {
    return false;
  }
  publish(): void {}
  async ping(): Promise<void> {}
  async close(): Promise<void> {}
}
