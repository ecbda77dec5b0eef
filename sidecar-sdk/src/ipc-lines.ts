import type { ApplicationType } from '@oppie/protocol';
import type { IpcErrorCode } from './errors.js';

/** One item out of a {@link LineSplitter}: a complete line, or the news that a line was too long and dropped. */
export type SplitItem = { readonly line: string } | { readonly tooLong: true };

/**
 * Splits a byte stream into `\n`-terminated UTF-8 lines (a trailing `\r` is removed). A line longer than
 * `maxBytes` is reported once as `tooLong` and skipped up to its newline, so the stream stays usable.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private size = 0;
  /** True while skipping the rest of a line already reported as too long. */
  private skipping = false;

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): SplitItem[] {
    const items: SplitItem[] = [];
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl === -1 ? chunk.length : nl;
      if (!this.skipping) {
        if (this.size + (end - start) > this.maxBytes) {
          items.push({ tooLong: true });
          this.reset();
          this.skipping = true;
        } else {
          this.parts.push(chunk.subarray(start, end));
          this.size += end - start;
        }
      }
      if (nl === -1) break;
      if (!this.skipping) {
        let line = Buffer.concat(this.parts, this.size).toString('utf8');
        if (line.endsWith('\r')) line = line.slice(0, -1);
        items.push({ line });
      }
      this.reset();
      this.skipping = false;
      start = nl + 1;
    }
    return items;
  }

  private reset(): void {
    this.parts = [];
    this.size = 0;
  }
}

/** A send request from a local process. */
export interface IpcRequest {
  readonly id: string;
  readonly type: ApplicationType;
  readonly payload: unknown;
  readonly to?: string;
}

export type ParseResult =
  | { readonly ok: true; readonly request: IpcRequest }
  | { readonly ok: false; readonly id: string | null; readonly code: IpcErrorCode; readonly message: string };

const MAX_ID_LENGTH = 128;

/** Parses and validates one request line against the types the bridge may send. */
export function parseRequest(line: string, allowedTypes: ReadonlySet<string>): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, id: null, code: 'IPC_ERR_BAD_LINE', message: `not JSON: ${(err as Error).message}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, id: null, code: 'IPC_ERR_BAD_LINE', message: 'the line must be a JSON object' };
  }
  const obj = value as Record<string, unknown>;
  const id = typeof obj.id === 'string' && obj.id.length > 0 && obj.id.length <= MAX_ID_LENGTH ? obj.id : null;
  const bad = (code: IpcErrorCode, message: string): ParseResult => ({ ok: false, id, code, message });
  if (id === null) return bad('IPC_ERR_BAD_LINE', `"id" must be a string of 1 to ${MAX_ID_LENGTH} characters`);
  if (typeof obj.type !== 'string') return bad('IPC_ERR_BAD_LINE', '"type" must be a string');
  if (!allowedTypes.has(obj.type)) return bad('IPC_ERR_UNKNOWN_TYPE', `unknown type ${JSON.stringify(obj.type)}`);
  if (!('payload' in obj)) return bad('IPC_ERR_BAD_LINE', '"payload" is missing');
  if (obj.to !== undefined && (typeof obj.to !== 'string' || obj.to === '')) {
    return bad('IPC_ERR_BAD_LINE', '"to" must be a non-empty device id when present');
  }
  const request: IpcRequest = {
    id,
    type: obj.type as ApplicationType,
    payload: obj.payload,
    ...(obj.to === undefined ? {} : { to: obj.to as string }),
  };
  return { ok: true, request };
}
