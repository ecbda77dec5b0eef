/**
 * UTF-8 JSON of a message, byte for byte what `TextEncoder.encode(JSON.stringify(value))` gives, with its long strings
 * written without JSON.stringify's walk. On Node 20 JSON.stringify walks a string character by character, and large
 * messages (a diff, a file, a tool's output, base64 of an image) are nearly all one long string. For
 * `{ p: { d: <64 KiB> } }`, stringify and encode against this (µs, Node 20): base64 214 / 52, a diff 283 / 178, code
 * 210 / 172. On a fast direct path the sender's event loop is the bound (bench/RESULTS.md).
 */

const encoder = new TextEncoder();

/** Strings from this length on are escaped and encoded here ({@link longString}); shorter ones by JSON.stringify. */
export const LONG_STRING = 512;
/**
 * Values visited before giving up on finding a long string: a message with more fields than this is written by
 * JSON.stringify as a whole, so the walk costs little next to it whatever the message.
 */
export const JSON_WALK_VALUES = 256;

const SURROGATE = /[\ud800-\udfff]/;
/** Whether a string has no lone surrogate (JSON.stringify escapes those; TextEncoder would replace them). */
const wellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (s) => !SURROGATE.test(s);

/**
 * What JSON escapes that text holds often, with its escape. The backslash goes first: the other escapes add
 * backslashes of their own.
 */
const COMMON_ESCAPES: ReadonlyArray<readonly [string, string]> = [
  ['\\', '\\\\'],
  ['"', '\\"'],
  ['\n', '\\n'],
  ['\r', '\\r'],
  ['\t', '\\t'],
];
/** The other control characters, which JSON escapes too (`\b`, `\f`, `\u0000`...) and text seldom holds. */
const RARE_ESCAPED = Array.from({ length: 32 }, (_, c) => String.fromCharCode(c)).filter(
  (c) => !COMMON_ESCAPES.some(([common]) => common === c),
);

/**
 * The JSON of a long string as a part: its contents with the common escapes made by `replaceAll` (each a native
 * search; 90-110 µs for 64 KiB of code or diff text on Node 20, against 190-220 µs for JSON.stringify), or
 * JSON.stringify's text when the string holds a rare control character or a lone surrogate.
 */
function longString(s: string): Part[] {
  if (!wellFormed(s) || RARE_ESCAPED.some((c) => s.includes(c))) return [JSON.stringify(s)];
  let contents = s;
  for (const [c, escaped] of COMMON_ESCAPES) if (contents.includes(c)) contents = contents.replaceAll(c, escaped);
  return ['"', { long: contents }, '"'];
}

/**
 * Pieces of JSON text: short text, a long string's contents, escaped, or (written by `packedJsonBytes`, never by
 * {@link jsonBytes}) a long string's contents carried as the bytes its base64 spells.
 */
export type Part = string | { readonly long: string } | PackedString;

/** A long string that is the canonical base64 or base64url spelling of `bytes` (see packed-strings.ts). */
export interface PackedString {
  readonly bytes: Uint8Array;
  /** base64url, unpadded; else base64, padded. */
  readonly url: boolean;
}

/** Where a walk stands: the values it may still visit, and what may carry a long string as bytes. */
interface Walk {
  left: number;
  readonly pack?: ((s: string) => PackedString | undefined) | undefined;
}

/**
 * Whether `v` is an object JSON.stringify writes from its own keys alone: no `toJSON`, no class, no boxed value (a
 * boxed string given Object.prototype still says `[object String]`).
 */
function plainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  if (Array.isArray(v)) {
    if (proto !== Array.prototype) return false;
  } else if ((proto !== Object.prototype && proto !== null) || Object.prototype.toString.call(v) !== '[object Object]')
    return false;
  return typeof (v as { toJSON?: unknown }).toJSON !== 'function';
}

/**
 * Whether `v` holds a string of {@link LONG_STRING} or more among the values a walk may visit. Only then is the message
 * written here: for a small message (most of them) JSON.stringify is faster than a walk that builds parts, and this
 * look costs a fraction of either.
 */
function holdsLongString(v: unknown, walk: Walk, accept?: (s: string) => boolean): boolean {
  walk.left -= 1;
  if (walk.left < 0) return false;
  if (typeof v === 'string') return v.length >= LONG_STRING && (accept === undefined || accept(v));
  if (v === null || typeof v !== 'object') return false;
  if (Array.isArray(v)) {
    const length = v.length;
    for (let i = 0; i < length; i++) if (holdsLongString(v[i], walk, accept)) return true;
    return false;
  }
  for (const key of Object.keys(v)) if (holdsLongString((v as Record<string, unknown>)[key], walk, accept)) return true;
  return false;
}

/**
 * Whether the values a walk may visit hold a string of {@link LONG_STRING} or more that `accept` takes: a look that
 * costs little next to writing the message, for a caller that would write it only then.
 */
export function holdsLongStringWhere(value: unknown, accept: (s: string) => boolean): boolean {
  try {
    return holdsLongString(value, { left: JSON_WALK_VALUES }, accept);
  } catch {
    return false; // a getter or Proxy trap that throws: the plain path says what it says about it
  }
}

/**
 * Appends the JSON of `v` to `out`; false when JSON.stringify has to write the message instead: a value it treats
 * in its own way (toJSON, a class instance, a bigint), or more values than the walk may visit (which a cycle is too).
 * An `undefined`, function or symbol comes back as `skip`: JSON.stringify leaves the key out, or writes null in an array.
 */
function write(v: unknown, out: Part[], walk: Walk): boolean | 'skip' {
  walk.left -= 1;
  if (walk.left < 0) return false;
  switch (typeof v) {
    case 'string':
      if (v.length < LONG_STRING) out.push(JSON.stringify(v));
      else {
        const packed = walk.pack?.(v);
        if (packed !== undefined) out.push('"', packed, '"');
        else out.push(...longString(v));
      }
      return true;
    case 'number':
    case 'boolean':
      out.push(JSON.stringify(v));
      return true;
    case 'undefined':
    case 'function':
    case 'symbol':
      return 'skip';
    case 'bigint':
      return false;
  }
  if (v === null) {
    out.push('null');
    return true;
  }
  const o = v as object;
  if (!plainObject(o)) return false;
  if (Array.isArray(o)) {
    out.push('[');
    // Read once, as JSON.stringify does (a getter could grow or shrink the array meanwhile).
    const length = o.length;
    for (let i = 0; i < length; i++) {
      if (i > 0) out.push(',');
      const r = write(o[i], out, walk);
      if (r === false) return false;
      if (r === 'skip') out.push('null');
    }
    out.push(']');
    return true;
  }
  out.push('{');
  let first = true;
  for (const key of Object.keys(o)) {
    const at = out.length;
    out.push(first ? JSON.stringify(key) : `,${JSON.stringify(key)}`, ':');
    const r = write((o as Record<string, unknown>)[key], out, walk);
    if (r === false) return false;
    if (r === 'skip') out.length = at;
    else first = false;
  }
  out.push('}');
  return true;
}

/**
 * The parts in UTF-8. Encoded straight into an array of one byte per UTF-16 unit, which holds them exactly when all is
 * ASCII (base64, most code); UTF-8 is never shorter, so anything else overflows it and is encoded part by part.
 */
function join(parts: readonly Part[], headroom: number): Uint8Array {
  const text = (part: Part) => (typeof part === 'string' ? part : 'long' in part ? part.long : '');
  let units = 0;
  for (const part of parts) units += text(part).length;
  const out = new Uint8Array(headroom + units);
  let at = headroom;
  for (const part of parts) {
    const s = text(part);
    const r = encoder.encodeInto(s, out.subarray(at));
    if (r.read < s.length) return encoder.encode(parts.map(text).join(''));
    at += r.written;
  }
  return out.subarray(headroom);
}

/**
 * The UTF-8 JSON of `value`: exactly the bytes of `new TextEncoder().encode(JSON.stringify(value))`, for a value whose
 * JSON is text. JSON.stringify's errors (a cycle, a bigint) are thrown as it throws them. Meant for plain data:
 * getters and Proxy traps may be read more than once (by the look for long strings, by the walk that writes, and by
 * JSON.stringify when it takes over).
 *
 * With `headroom` (a count of bytes), JSON written here (a message with a long string, all ASCII) is a view `headroom`
 * bytes into its array, whose first bytes the caller may use (a chunk's header goes there: no copy of the message to
 * put it in front). Other JSON (from JSON.stringify, or encoded again because it is not all ASCII) starts its array.
 *
 * @example
 * const bytes = jsonBytes({ p: { path: 'src/app.ts', diff } }); // diff copied in, not walked
 */
export function jsonBytes(value: unknown, headroom = 0): Uint8Array {
  const parts = jsonParts(value);
  if (parts !== undefined) return join(parts, headroom);
  return encoder.encode(JSON.stringify(value));
}

/**
 * The JSON of `value` as parts, when it holds a long string and the walk can write it (else undefined: JSON.stringify
 * writes it). With `pack`, each long string it returns bytes for is a {@link PackedString} part between its quotes.
 */
export function jsonParts(value: unknown, pack?: (s: string) => PackedString | undefined): Part[] | undefined {
  const parts: Part[] = [];
  try {
    // The same values in the same order: a walk that finds a long string within the budget writes it within it too.
    if (
      holdsLongString(value, { left: JSON_WALK_VALUES }) &&
      write(value, parts, { left: JSON_WALK_VALUES, pack }) === true
    )
      return parts;
  } catch {
    // A getter or Proxy trap that throws: JSON.stringify says what it says about it.
  }
  return undefined;
}
