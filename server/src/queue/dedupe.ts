/**
 * Recently seen envelope ids per sender, so a resent envelope (its relay ack was lost) is acknowledged again but not
 * forwarded twice. Bounded per sender by a ring of `window` ids, and in total by `maxSenders` (the sender seen first
 * is forgotten first; re-ordering on every envelope would cost the hot path a delete and an insert).
 */
export interface DedupeStore {
  /** Records the id; returns true if it had been seen before. */
  seen(senderId: string, id: string): Promise<boolean>;
  /** Forgets an id (its envelope was refused, so a resend must be processed). */
  forget(senderId: string, id: string): Promise<void>;
  /**
   * Forgets every id: for an instance that may have missed other instances' forgets (its link to the shared store
   * was down). A resend is then queued once more, which the recipient's SDK drops; a remembered id whose envelope
   * was dropped elsewhere would instead be refused as a duplicate for good.
   */
  clear(): Promise<void>;
}

class Ring {
  /** id -> its slot; a slot overwritten later only removes its id if the id still points at that slot. */
  readonly ids = new Map<string, number>();
  private readonly order: string[] = [];
  private next = 0;

  constructor(private readonly size: number) {}

  add(id: string): void {
    let slot: number;
    if (this.order.length < this.size) {
      slot = this.order.length;
      this.order.push(id);
    } else {
      slot = this.next;
      const old = this.order[slot] as string;
      if (this.ids.get(old) === slot) this.ids.delete(old);
      this.order[slot] = id;
      this.next = (this.next + 1) % this.size;
    }
    this.ids.set(id, slot);
  }
}

export class MemoryDedupeStore implements DedupeStore {
  private readonly senders = new Map<string, Ring>();

  constructor(
    private readonly window: number,
    private readonly maxSenders = 100_000,
  ) {}

  async seen(senderId: string, id: string): Promise<boolean> {
    let ring = this.senders.get(senderId);
    if (ring === undefined) {
      if (this.senders.size >= this.maxSenders) {
        const oldest = this.senders.keys().next().value as string;
        this.senders.delete(oldest);
      }
      ring = new Ring(this.window);
      this.senders.set(senderId, ring);
    }
    if (ring.ids.has(id)) return true;
    ring.add(id);
    return false;
  }

  async forget(senderId: string, id: string): Promise<void> {
    this.senders.get(senderId)?.ids.delete(id);
  }

  async clear(): Promise<void> {
    this.senders.clear();
  }
}
