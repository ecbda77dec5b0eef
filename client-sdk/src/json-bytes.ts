/**
 * UTF-8 JSON of a message, byte for byte what `TextEncoder.encode(JSON.stringify(value))` gives, with its long strings
 * that need no escape copied in instead of walked. On Node 20 JSON.stringify walks a string character by character:
 * `{ p: { d: <64 KiB of base64> } }` took 145-305 µs to stringify and encode, and 50 µs here (searching the string for
 * what JSON escapes, then encoding it straight into the output). A long string with something to escape (text with
 * line breaks) is still written by JSON.stringify, once: about as fast as before. Base64 of files and images is the
 * common large payload without escapes, and on a fast direct path the sender's event loop is the bound
 * (bench/RESULTS.md).
 */

const encoder = new TextEncoder();

/** Strings from this length on are copied in as UTF-8 when nothing in them needs escaping. */
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
 * What JSON escapes in a string: `"`, `\` and the control characters, the common ones first. One `indexOf` each: the
 * engines search a string natively (about 20 µs for all of them over 64 KiB of base64 on Node 20, against 80-200 µs
 * for one regular expression or a loop over the characters).
 */
const ESCAPED = ['"', '\\', '\n', '\t', '\r', ...Array.from({ length: 32 }, (_, c) => String.fromCharCode(c))].filter(
  (c, i, all) => all.indexOf(c) === i,
);

/** Whether JSON.stringify would write `s` as it is, between quotes. */
function needsNoEscape(s: string): boolean {
  if (!wellFormed(s)) return false;
  for (const c of ESCAPED) if (s.indexOf(c) >= 0) return false;
  return true;
}

/** Pieces of JSON text: text as it is, or a long string's contents (which need no escape). */
type Part = string | { readonly long: string };

/** Where a walk stands: values it may still visit, and whether it met a long string. */
interface Walk {
  left: number;
  long: boolean;
}

/** Whether `v` is an object JSON.stringify writes from its own keys alone (no `toJSON`, no class, no boxed value). */
function plainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  if (Array.isArray(v) ? proto !== Array.prototype : proto !== Object.prototype && proto !== null) return false;
  return typeof (v as { toJSON?: unknown }).toJSON !== 'function';
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
        // Written here either way: JSON.stringify of the whole message would walk it again.
        out.push(...(needsNoEscape(v) ? ['"', { long: v }, '"'] : [JSON.stringify(v)]));
        walk.long = true;
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
    for (let i = 0; i < o.length; i++) {
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
function join(parts: readonly Part[]): Uint8Array {
  const text = (part: Part) => (typeof part === 'string' ? part : part.long);
  let units = 0;
  for (const part of parts) units += text(part).length;
  const out = new Uint8Array(units);
  let at = 0;
  for (const part of parts) {
    const s = text(part);
    const r = encoder.encodeInto(s, out.subarray(at));
    if (r.read < s.length) return encoder.encode(parts.map(text).join(''));
    at += r.written;
  }
  return out;
}

/**
 * The UTF-8 JSON of `value`: exactly the bytes of `new TextEncoder().encode(JSON.stringify(value))`, for a value whose
 * JSON is text. JSON.stringify's errors (a cycle, a bigint) are thrown as it throws them.
 *
 * @example
 * const bytes = jsonBytes({ p: { path: 'src/app.ts', diff } }); // diff copied in, not walked
 */
export function jsonBytes(value: unknown): Uint8Array {
  const parts: Part[] = [];
  const walk: Walk = { left: JSON_WALK_VALUES, long: false };
  if (write(value, parts, walk) === true && walk.long) return join(parts);
  return encoder.encode(JSON.stringify(value));
}
