import type { Priority } from '@oppie/protocol';

/**
 * One envelope held by the relay for a recipient. `text` is the frame exactly as the sender sent it: the relay
 * forwards bytes it validated, never a re-serialisation, so end-to-end signatures and AEAD tags stay intact.
 */
export interface QueuedEnvelope {
  /** Sender's envelope id (unique per sender). */
  readonly id: string;
  /** Sender device id, or "relay" for relay notices. */
  readonly from: string;
  readonly to: string;
  readonly type: string;
  readonly priority: Priority;
  readonly text: string;
  readonly bytes: number;
  /** When the relay accepted it (ms since epoch); delivery latency is measured from here. */
  readonly acceptedAt: number;
  readonly expiresAt: number;
}
