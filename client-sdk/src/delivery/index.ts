/** The delivery layer: sequence numbers, outbox, inbox, receipts and chunking, independent of the transport. */
export {
  CHUNK_HEADER_BYTES,
  type Chunk,
  DEFAULT_CHUNK_BYTES,
  decodeChunk,
  encodeChunk,
  FOLDED_CHUNK_BYTES,
  FOLDED_MESSAGE_BYTES,
  splitPayload,
  TAIL_FOLD_BYTES,
} from './chunker.js';
export { type Compression, type DeflateHints, nodeCompression, webCompression, type ZlibLike } from './compression.js';
export { Inbox, type InboxOptions, type InboxResult } from './inbox.js';
export { Outbox, type OutboxEntry, type OutboxOptions } from './outbox.js';
export { Reassembler, type ReassemblerOptions, type ReassemblyProgress } from './reassembler.js';
export { decodeReceipt, encodeReceipt, type Receipt } from './receipt.js';
