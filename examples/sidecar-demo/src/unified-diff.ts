/**
 * Writes `git diff` text: file headers, `@@` hunk headers with correct line counts, and the abbreviated blob ids git
 * prints (derived from the content, so the same input always gives the same text).
 */
import { createHash } from 'node:crypto';

/** One line of a hunk: context, removed or added. */
export type HunkLine = readonly [' ' | '-' | '+', string];

export interface Hunk {
  /** First line of the hunk in the old file, from 1. */
  readonly oldStart: number;
  readonly lines: readonly HunkLine[];
  /** Shown after the `@@` header, as git shows the enclosing function. */
  readonly section?: string;
}

export interface FileChange {
  readonly path: string;
  /** A new file: `--- /dev/null`, one hunk from `-0,0`. */
  readonly created?: boolean;
  readonly hunks: readonly Hunk[];
}

function blobId(path: string, side: string, hunks: readonly Hunk[]): string {
  const h = createHash('sha1').update(path).update(side);
  for (const hunk of hunks) for (const [, text] of hunk.lines) h.update(text);
  return h.digest('hex').slice(0, 7);
}

function hunkText(hunk: Hunk, shift: number): string {
  const oldCount = hunk.lines.filter(([k]) => k !== '+').length;
  const newCount = hunk.lines.filter(([k]) => k !== '-').length;
  const oldStart = oldCount === 0 ? hunk.oldStart - 1 : hunk.oldStart;
  const newStart = newCount === 0 ? hunk.oldStart - 1 + shift : hunk.oldStart + shift;
  const section = hunk.section === undefined ? '' : ` ${hunk.section}`;
  const body = hunk.lines.map(([k, text]) => `${k}${text}\n`).join('');
  return `@@ -${oldStart},${oldCount} +${newStart},${newCount} @@${section}\n${body}`;
}

/** One file's part of the diff. Hunks must be in order and not overlap. */
export function fileDiff(change: FileChange): string {
  const { path } = change;
  const head = [`diff --git a/${path} b/${path}`];
  const newId = blobId(path, 'new', change.hunks);
  if (change.created) head.push('new file mode 100644', `index 0000000..${newId}`, '--- /dev/null');
  else head.push(`index ${blobId(path, 'old', change.hunks)}..${newId} 100644`, `--- a/${path}`);
  head.push(`+++ b/${path}`);
  let shift = 0;
  const hunks: string[] = [];
  for (const hunk of change.hunks) {
    hunks.push(hunkText(change.created ? { ...hunk, oldStart: 1 } : hunk, shift));
    for (const [k] of hunk.lines) shift += k === '+' ? 1 : k === '-' ? -1 : 0;
  }
  return `${head.join('\n')}\n${hunks.join('')}`;
}

/** A new file's hunk: every line added. */
export function addedLines(lines: readonly string[]): Hunk {
  return { oldStart: 1, lines: lines.map((l) => ['+', l] as const) };
}

/**
 * The whole diff, files in the order given.
 *
 * @example
 * const text = unifiedDiff([{ path: 'README.md', hunks: [{ oldStart: 3, lines: [[' ', '# App'], ['+', 'New line']] }] }]);
 */
export function unifiedDiff(changes: readonly FileChange[]): string {
  return changes.map(fileDiff).join('');
}
