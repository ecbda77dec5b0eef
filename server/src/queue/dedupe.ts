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
}

class Ring {
  readonly ids = new Set<string>();
  private readonly order: string[] = [];
  private next = 0;

  constructor(private readonly size: number) {}

  add(id: string): void {
    if (this.order.length < this.size) this.order.push(id);
    else {
      this.ids.delete(this.order[this.next] as string);
      this.order[this.next] = id;
      this.next = (this.next + 1) % this.size;
    }
    this.ids.add(id);
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
}
