/**
 * Small helpers shared by the delivery files: a serialising queue and storage calls that fail with a typed error.
 * Internal: not re-exported from the package.
 */
import { OppieError } from '../errors.js';

/**
 * Runs async tasks one at a time, in call order. The outbox and inbox read state, await storage, then write state;
 * two interleaved calls would both read the same `expected` or counter, so every mutation goes through one queue.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<R>(task: () => Promise<R>): Promise<R> {
    const result = this.tail.then(task);
    // The queue continues after a failure; the failure itself reaches the caller through `result`.
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Settles once every task queued so far has settled (tasks queued meanwhile are waited for too). */
  async idle(): Promise<void> {
    let tail: Promise<unknown>;
    do {
      tail = this.tail;
      await tail;
    } while (tail !== this.tail);
  }
}

/**
 * Runs async tasks with at most `limit` under way at once; the rest start in call order as slots free up. The outbox
 * overlaps its frames' writes through one (a durable store's syncs then serve several writes at a time), and
 * messaging bounds the large messages it compresses at once.
 */
export class Slots {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(private readonly limit: number) {}

  async run<R>(task: () => Promise<R>): Promise<R> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await task();
    } finally {
      // The slot passes straight to the next in line, or is given back.
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running -= 1;
    }
  }
}

/** Awaits a storage call, turning any failure into `OPPIE_ERR_STORAGE` with the original error as `cause`. */
export async function storageOp<R>(what: string, op: () => Promise<R>): Promise<R> {
  try {
    return await op();
  } catch (cause) {
    throw new OppieError('OPPIE_ERR_STORAGE', `storage failed while ${what}`, { cause });
  }
}

/** Peer ids become one key segment; encoding keeps a `/` in an id from splitting the key. */
export const keySegment = (peer: string): string => encodeURIComponent(peer);

export const isSeq = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
