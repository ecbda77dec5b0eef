/**
 * The connection manager: which device is connected where, the device directory of each account with live
 * connections (so routing checks a recipient without a store call), per-account and per-address counts, presence,
 * and one heartbeat sweep for all sockets.
 */
import { dialsDirectPath, type PathName, type PresenceEntry, type RoleName } from '@oppie/protocol';
import type { DeviceLocation } from '../cluster/cluster.js';
import type { Connection } from './connection.js';

export interface DirectoryEntry {
  readonly role: RoleName;
  readonly name: string;
}

export class Hub {
  private readonly byDevice = new Map<string, Connection>();
  private readonly byAccount = new Map<string, Set<Connection>>();
  private readonly perIp = new Map<string, number>();
  /** Device directory per account, kept while the account has a live connection. */
  private readonly directories = new Map<string, Map<string, DirectoryEntry>>();
  /**
   * Devices of those accounts connected on another instance (Redis), from the other instances' presence events and
   * the lookups of each welcome; {@link reconcileRemote} drops what a crashed instance never announced.
   */
  private readonly remote = new Map<string, Set<string>>();
  /** Directory changes that came while an account's directory was being read (see {@link loadingDirectory}). */
  private readonly loading = new Map<string, Array<(dir: Map<string, DirectoryEntry>) => void>>();

  get size(): number {
    return this.byDevice.size;
  }

  get(deviceId: string): Connection | undefined {
    return this.byDevice.get(deviceId);
  }

  connections(): IterableIterator<Connection> {
    return this.byDevice.values();
  }

  accountConnections(accountId: string): ReadonlySet<Connection> {
    return this.byAccount.get(accountId) ?? new Set();
  }

  ipCount(ip: string): number {
    return this.perIp.get(ip) ?? 0;
  }

  directory(accountId: string): ReadonlyMap<string, DirectoryEntry> | undefined {
    return this.directories.get(accountId);
  }

  hasDirectory(accountId: string): boolean {
    return this.directories.has(accountId);
  }

  /**
   * A connection is about to read the account's devices from the store: a device paired or revoked while it reads
   * may be missing from what it gets (or still in it), so those changes are kept and applied by
   * {@link setDirectory}. Dropped with the account's last connection here.
   */
  loadingDirectory(accountId: string): void {
    if (!this.directories.has(accountId) && !this.loading.has(accountId)) this.loading.set(accountId, []);
  }

  /**
   * The account's devices as read from the store, with the changes since {@link loadingDirectory} applied on top. A
   * directory already there (another connection of the account read it first) stays: events have kept it current.
   */
  setDirectory(accountId: string, devices: Iterable<[string, DirectoryEntry]>): void {
    if (this.directories.has(accountId)) return;
    const dir = new Map(devices);
    for (const change of this.loading.get(accountId) ?? []) change(dir);
    this.loading.delete(accountId);
    this.directories.set(accountId, dir);
  }

  /** A device joined an account with live connections (pairing). */
  addToDirectory(accountId: string, deviceId: string, entry: DirectoryEntry): void {
    const dir = this.directories.get(accountId);
    if (dir !== undefined) dir.set(deviceId, entry);
    else this.loading.get(accountId)?.push((d) => d.set(deviceId, entry));
  }

  removeFromDirectory(accountId: string, deviceId: string): void {
    const dir = this.directories.get(accountId);
    if (dir !== undefined) dir.delete(deviceId);
    else this.loading.get(accountId)?.push((d) => d.delete(deviceId));
    this.remotePresence(accountId, deviceId, false);
  }

  /** Registers a connection; returns the connection it replaces (same device), which the caller closes. */
  add(conn: Connection): Connection | undefined {
    const old = this.byDevice.get(conn.deviceId);
    this.byDevice.set(conn.deviceId, conn);
    let set = this.byAccount.get(conn.accountId);
    if (set === undefined) {
      set = new Set();
      this.byAccount.set(conn.accountId, set);
    }
    set.add(conn);
    // Newest connection wins: one the device had on another instance is closing now.
    this.remotePresence(conn.accountId, conn.deviceId, false);
    this.perIp.set(conn.ip, (this.perIp.get(conn.ip) ?? 0) + 1);
    // Detach the old one after adding the new, so the account never looks empty and keeps its directory.
    if (old !== undefined) this.detach(old);
    return old;
  }

  /** Unregisters a closed connection; returns whether it was the device's current one. */
  remove(conn: Connection): boolean {
    if (this.byDevice.get(conn.deviceId) !== conn) return false;
    this.byDevice.delete(conn.deviceId);
    this.detach(conn);
    return true;
  }

  private detach(conn: Connection): void {
    const set = this.byAccount.get(conn.accountId);
    if (set?.delete(conn) && set.size === 0) {
      this.byAccount.delete(conn.accountId);
      this.directories.delete(conn.accountId);
      this.remote.delete(conn.accountId);
      this.loading.delete(conn.accountId);
    }
    const n = (this.perIp.get(conn.ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(conn.ip);
    else this.perIp.set(conn.ip, n);
  }

  /** Devices of the account directory with no connection here (for a lookup on the other instances). */
  notHere(accountId: string): string[] {
    return [...(this.directories.get(accountId)?.keys() ?? [])].filter((id) => !this.byDevice.has(id));
  }

  /** Presence of every device in the account directory: connected here, or at one of the `elsewhere` locations. */
  presence(accountId: string, elsewhere: ReadonlyMap<string, DeviceLocation> = new Map()): PresenceEntry[] {
    const dir = this.directories.get(accountId);
    if (dir === undefined) return [];
    return [...dir].map(([deviceId, d]) => {
      const path = this.byDevice.get(deviceId)?.path ?? elsewhere.get(deviceId)?.path;
      const entry: PresenceEntry = { deviceId, role: d.role, name: d.name, online: path !== undefined };
      if (path !== undefined) entry.path = path;
      return entry;
    });
  }

  /**
   * `deviceId` was revoked: the account's devices here hear it went for good (a peer drops a data channel to it, which
   * the relay does not see), paths reported about it are forgotten, so the relay again (the report saying so would be
   * refused: it is no longer in the account), and it leaves the directory. Returns the connections whose own path
   * (their last report was about that device) went back to the relay.
   */
  revoke(accountId: string, deviceId: string): Connection[] {
    this.broadcastPresence(accountId, deviceId, false, true);
    const moved: Connection[] = [];
    for (const c of this.accountConnections(accountId)) if (c.forgetPeer(deviceId)) moved.push(c);
    this.removeFromDirectory(accountId, deviceId);
    return moved;
  }

  /**
   * Another instance says `deviceId` of `accountId` came or went (a presence event), or a lookup found it there or
   * not. Kept only for accounts with a directory here, the ones whose sessions this instance counts. Returns whether
   * that changed what this instance believed.
   */
  remotePresence(accountId: string, deviceId: string, online: boolean): boolean {
    if (online) {
      if (!this.directories.has(accountId)) return false;
      let set = this.remote.get(accountId);
      if (set === undefined) {
        set = new Set();
        this.remote.set(accountId, set);
      }
      if (set.has(deviceId)) return false;
      set.add(deviceId);
      return true;
    }
    const set = this.remote.get(accountId);
    if (set?.delete(deviceId) !== true) return false;
    if (set.size === 0) this.remote.delete(accountId);
    return true;
  }

  /** Every account with a directory here, with the devices of it not connected here. */
  accountsNotHere(): Array<[string, string[]]> {
    return [...this.directories.keys()].map((accountId) => [accountId, this.notHere(accountId)]);
  }

  /**
   * A lookup of `ids` (devices of `accountId` not connected here) found `found`, `self` being this instance: each is
   * online elsewhere when found on another instance. Returns the devices whose state here changed, and to what.
   */
  located(
    accountId: string,
    ids: readonly string[],
    found: ReadonlyMap<string, { instance: string }>,
    self: string,
  ): Array<[string, boolean]> {
    const changed: Array<[string, boolean]> = [];
    for (const id of ids) {
      const online = onlineElsewhere(found, id, self);
      if (this.remotePresence(accountId, id, online)) changed.push([id, online]);
    }
    return changed;
  }

  /** Devices believed connected on other instances, with their account: what {@link reconcileRemote} checks. */
  remoteDevices(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    for (const [accountId, set] of this.remote) for (const id of set) out.push([accountId, id]);
    return out;
  }

  /**
   * A lookup of `checked` (taken from {@link remoteDevices}) found `found`: those not online elsewhere by it are
   * gone. Only removes: a device that came online meanwhile was added by its presence event and is not in `checked`,
   * and one that went meanwhile must not come back.
   */
  reconcileRemote(
    checked: ReadonlyArray<readonly [string, string]>,
    found: ReadonlyMap<string, { instance: string }>,
    self: string,
  ): void {
    for (const [accountId, id] of checked) {
      if (!onlineElsewhere(found, id, self)) this.remotePresence(accountId, id, false);
    }
  }

  /**
   * Live sessions dialed from here, by path. A session is a PWA and a sidecar of one account that are both connected
   * (the peer here, or on another instance by {@link remotePresence}); its path is what the dialing device (the
   * smaller id, which reports every change) last reported about it, the relay until it reports. Only the sessions
   * whose dialing device is here count, so each counts once across instances; a device with no peer online counts
   * nowhere. Connections being closed (replaced, revoked) or not yet welcomed do not count. The work is in live
   * devices only: peers asleep are never visited.
   *
   * @example
   * const { relay, turn, direct } = hub.sessionPaths();
   */
  sessionPaths(): Record<PathName, number> {
    const paths: Record<PathName, number> = { relay: 0, turn: 0, direct: 0 };
    for (const conn of this.byDevice.values()) {
      const dir = this.directories.get(conn.accountId);
      if (dir === undefined || !live(conn)) continue;
      const count = (peer: string) => {
        const d = dir.get(peer);
        if (d === undefined || d.role === conn.role || !dialsDirectPath(conn.deviceId, peer)) return;
        paths[conn.peerPaths?.get(peer) ?? 'relay'] += 1;
      };
      for (const other of this.accountConnections(conn.accountId)) if (live(other)) count(other.deviceId);
      for (const peer of this.remote.get(conn.accountId) ?? []) {
        const here = this.byDevice.get(peer);
        if (here === undefined || !live(here)) count(peer);
      }
    }
    return paths;
  }

  /** Tells the account's other live devices here that `deviceId` came or went; `revoked` when it went for good. */
  broadcastPresence(accountId: string, deviceId: string, online: boolean, revoked = false): void {
    const d = this.directories.get(accountId)?.get(deviceId);
    if (d === undefined) return;
    const payload: PresenceEntry = { deviceId, role: d.role, name: d.name, online };
    if (revoked) payload.revoked = true;
    for (const c of this.accountConnections(accountId)) {
      // A connection still opening gets the account's presence in its welcome, which must be its first frame.
      if (c.deviceId !== deviceId && c.ready) c.sendFrame('presence', payload);
    }
  }
}

/** Found by a lookup at another instance (a location naming this one is stale: this instance knows better). */
const onlineElsewhere = (found: ReadonlyMap<string, { instance: string }>, id: string, self: string): boolean => {
  const at = found.get(id);
  return at !== undefined && at.instance !== self;
};

/** Welcomed and not being closed: a connection that speaks for its device. */
const live = (c: Connection): boolean => c.ready && !c.closing;
