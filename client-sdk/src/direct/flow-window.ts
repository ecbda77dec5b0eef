/**
 * Application-level flow control for a data channel. wrtc's `bufferedAmount` reads 0 right after a send and it
 * silently drops sends past ~16 MiB queued, so the sender counts bytes sent minus the bytes the receiver reported
 * (`credit`), and holds frames while that exceeds the window. Frames held here are also in the outbox: dropping
 * this queue when the channel dies loses nothing.
 */
export class FlowWindow {
  private sentBytes = 0;
  private creditedBytes = 0;
  private readonly held: Array<string | Uint8Array> = [];
  private heldBytes = 0;

  constructor(
    private readonly windowBytes: number,
    private readonly write: (data: string | Uint8Array) => void,
  ) {}

  /** Bytes sent and not yet reported received by the peer. */
  get inFlight(): number {
    return this.sentBytes - this.creditedBytes;
  }

  get queuedBytes(): number {
    return this.heldBytes;
  }

  /** Sends now when the window allows (and nothing waits ahead), else holds the frame in order. */
  push(data: string | Uint8Array): void {
    if (this.held.length === 0 && this.inFlight + data.length <= this.windowBytes) {
      this.sentBytes += data.length;
      this.write(data);
      return;
    }
    this.held.push(data);
    this.heldBytes += data.length;
    // A frame larger than the whole window still goes once nothing else is in flight.
    if (this.inFlight === 0) this.drain();
  }

  /**
   * Sends now, ahead of any held frame and whatever the window says: for receipts, which the peer needs to settle its
   * own sends. Behind a backlog (up to the sender's 512 frames of ~62 KiB) a receipt waited as long as that backlog
   * took to cross, and on a slow link the peer dropped a healthy channel for missing receipts. A receipt is a few
   * hundred bytes and at most one goes per receipt round, so the window is overrun by little. Its bytes are counted
   * like any other, as the receiver credits them.
   */
  pushUrgent(data: string | Uint8Array): void {
    this.sentBytes += data.length;
    this.write(data);
  }

  /** The peer reported `received` bytes in total; never moves backwards. */
  credit(received: number): void {
    const upTo = Math.min(received, this.sentBytes);
    if (upTo <= this.creditedBytes) return;
    this.creditedBytes = upTo;
    this.drain();
  }

  private drain(): void {
    while (this.held.length > 0) {
      const next = this.held[0] as string | Uint8Array;
      if (this.inFlight > 0 && this.inFlight + next.length > this.windowBytes) return;
      this.held.shift();
      this.heldBytes -= next.length;
      this.sentBytes += next.length;
      this.write(next);
    }
  }

  /** Forgets held frames (the channel is gone; the outbox resends them on the next path). */
  clear(): number {
    const dropped = this.held.length;
    this.held.length = 0;
    this.heldBytes = 0;
    return dropped;
  }
}

/** Smallest peer window a receiver credits by: a peer advertising less still gets at most one credit per KiB. */
const MIN_CREDIT_WINDOW = 4 * 1024;

/**
 * The receiving side: counts bytes and says when a credit is due, every quarter of the smaller of its own window and
 * the sender's (the sender's `w` in its ping or pong). A sender whose window is below a quarter of the receiver's
 * would otherwise stop before any credit is due and wait for the next ping, a window per second.
 */
export class CreditCounter {
  private receivedBytes = 0;
  private reported = 0;
  private quarter: number;

  constructor(private readonly windowBytes: number) {
    this.quarter = windowBytes / 4;
  }

  /** The sender's window, as its ping or pong says (undefined: an older SDK, assumed to use the same window). */
  peerWindow(bytes: number | undefined): void {
    const peer = bytes === undefined ? this.windowBytes : Math.max(MIN_CREDIT_WINDOW, bytes);
    this.quarter = Math.min(this.windowBytes, peer) / 4;
  }

  get received(): number {
    return this.receivedBytes;
  }

  /** Bytes received since the last report. */
  get unreported(): number {
    return this.receivedBytes - this.reported;
  }

  /** Counts a message; true when the sender should be told now. */
  add(bytes: number): boolean {
    this.receivedBytes += bytes;
    return this.receivedBytes - this.reported >= this.quarter;
  }

  /** The total to report (and remember as reported). */
  take(): number {
    this.reported = this.receivedBytes;
    return this.receivedBytes;
  }
}
