/**
 * The bars of large incoming messages (`transfer` events of the SDK), bounded: a transfer that never completes (its
 * peer went away, or abandoned it) must not stay on screen forever. A transfer is dropped
 *
 * - TRANSFER_LINGER_MS after it completed, or when a message from its peer arrives (messages from one peer arrive in
 *   order, so that message is the transfer's own or came after it);
 * - when its peer starts another transfer (the SDK reassembles one transfer per peer and forgets an abandoned one);
 * - when it made no progress within STALE_AFTER_OPEN_MS of a reconnect;
 * - when more than MAX_TRANSFERS are shown (the oldest first).
 */
export interface Transfer {
  readonly peer: string;
  readonly id: string;
  readonly done: number;
  readonly total: number;
  /** Time of the last progress. */
  readonly at: number;
}

const TRANSFER_LINGER_MS = 1500;
const STALE_AFTER_OPEN_MS = 30_000;
const MAX_TRANSFERS = 8;

export class Transfers {
  private readonly byId = new Map<string, Transfer>();

  constructor(private readonly changed: () => void) {}

  values(): IterableIterator<Transfer> {
    return this.byId.values();
  }

  get size(): number {
    return this.byId.size;
  }

  progress(peer: string, id: string, done: number, total: number): void {
    for (const t of this.byId.values()) if (t.peer === peer && t.id !== id) this.byId.delete(t.id);
    this.byId.delete(id); // re-inserted last: the map's order is the eviction order
    this.byId.set(id, { peer, id, done, total, at: Date.now() });
    for (const oldest of this.byId.keys()) {
      if (this.byId.size <= MAX_TRANSFERS) break;
      this.byId.delete(oldest);
    }
    if (done >= total) setTimeout(() => this.drop((t) => t.id === id && t.done >= t.total), TRANSFER_LINGER_MS);
    this.changed();
  }

  /** A message from `peer` arrived: its transfers are complete or abandoned. */
  messageFrom(peer: string): void {
    this.drop((t) => t.peer === peer);
  }

  /** The connection is open again: transfers that do not move within STALE_AFTER_OPEN_MS are gone. */
  reconnected(): void {
    const openedAt = Date.now();
    setTimeout(() => this.drop((t) => t.at < openedAt), STALE_AFTER_OPEN_MS);
  }

  private drop(which: (t: Transfer) => boolean): void {
    let dropped = false;
    for (const t of this.byId.values()) {
      if (!which(t)) continue;
      this.byId.delete(t.id);
      dropped = true;
    }
    if (dropped) this.changed();
  }
}
