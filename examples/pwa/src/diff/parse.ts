/**
 * A unified diff (`git diff` format) split into files first (a cheap scan, so a multi-MB diff does not block the
 * page), each file parsed into hunks and numbered lines only when it is shown.
 */

/** One file's slice of the diff text, unparsed. */
export interface FileSlice {
  readonly path: string;
  readonly text: string;
}

export type LineKind = 'add' | 'del' | 'ctx' | 'note';

export interface DiffLine {
  readonly kind: LineKind;
  readonly text: string;
  readonly oldNo?: number;
  readonly newNo?: number;
}

export interface Hunk {
  readonly header: string;
  readonly lines: readonly DiffLine[];
}

export interface ParsedFile {
  /** Header lines before the first hunk (`diff --git`, `index`, `---`, `+++`, mode changes). */
  readonly meta: readonly string[];
  readonly hunks: readonly Hunk[];
  readonly added: number;
  readonly removed: number;
}

const FILE_START = /^diff --git /m;

/** Splits at each `diff --git` line; a diff without them (plain `diff -u`) splits at `--- ` headers followed by `+++`. */
export function splitFiles(unified: string): FileSlice[] {
  const starts: number[] = [];
  const marker = FILE_START.test(unified) ? 'diff --git ' : '--- ';
  if (unified.startsWith(marker)) starts.push(0);
  let at = unified.indexOf(`\n${marker}`);
  while (at !== -1) {
    if (marker === 'diff --git ' || unified.startsWith('+++ ', unified.indexOf('\n', at + 1) + 1)) starts.push(at + 1);
    at = unified.indexOf(`\n${marker}`, at + 1);
  }
  if (starts.length === 0) return unified.trim() === '' ? [] : [{ path: '(diff)', text: unified }];
  return starts.map((start, i) => {
    const text = unified.slice(start, starts[i + 1] ?? unified.length);
    return { path: pathOf(text), text };
  });
}

function pathOf(fileText: string): string {
  const plus = /^\+\+\+ (?:b\/)?(.+)$/m.exec(fileText);
  if (plus?.[1] !== undefined && plus[1] !== '/dev/null') return plus[1].trim();
  const minus = /^--- (?:a\/)?(.+)$/m.exec(fileText);
  if (minus?.[1] !== undefined && minus[1] !== '/dev/null') return minus[1].trim();
  const git = /^diff --git a\/(\S+) b\/(\S+)/.exec(fileText);
  return git?.[2] ?? '(unknown)';
}

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/;

export function parseFile(text: string): ParsedFile {
  const meta: string[] = [];
  const hunks: { header: string; lines: DiffLine[] }[] = [];
  let current: { header: string; lines: DiffLine[] } | undefined;
  let oldNo = 0;
  let newNo = 0;
  let added = 0;
  let removed = 0;
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) {
    const h = HUNK.exec(line);
    if (h !== null) {
      oldNo = Number(h[1]);
      newNo = Number(h[2]);
      current = { header: line, lines: [] };
      hunks.push(current);
      continue;
    }
    if (current === undefined) {
      meta.push(line);
      continue;
    }
    const sign = line[0];
    if (sign === '+') {
      current.lines.push({ kind: 'add', text: line.slice(1), newNo: newNo++ });
      added++;
    } else if (sign === '-') {
      current.lines.push({ kind: 'del', text: line.slice(1), oldNo: oldNo++ });
      removed++;
    } else if (sign === '\\') {
      current.lines.push({ kind: 'note', text: line });
    } else {
      current.lines.push({ kind: 'ctx', text: line.slice(1), oldNo: oldNo++, newNo: newNo++ });
    }
  }
  return { meta, hunks, added, removed };
}
