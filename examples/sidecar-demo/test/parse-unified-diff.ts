/**
 * A strict reader of `git diff` text for the tests: every file has its headers, every hunk header's counts match
 * its lines. Throws on anything else, naming the line.
 */
export interface ParsedFile {
  readonly path: string;
  readonly created: boolean;
  readonly hunks: number;
  readonly added: number;
  readonly removed: number;
}

const HUNK = /^@@ -(\d+),(\d+) \+(\d+),(\d+) @@/;

export function parseUnifiedDiff(text: string): ParsedFile[] {
  if (!text.endsWith('\n')) throw new Error('diff does not end with a newline');
  const lines = text.slice(0, -1).split('\n');
  const files: ParsedFile[] = [];
  let i = 0;
  const fail = (why: string): never => {
    throw new Error(`line ${i + 1}: ${why}: ${JSON.stringify(lines[i]?.slice(0, 120))}`);
  };
  while (i < lines.length) {
    const head = /^diff --git a\/(\S+) b\/(\S+)$/.exec(lines[i] ?? '') ?? fail('expected diff --git');
    const path = head[2] as string;
    if (head[1] !== path) fail('a/ and b/ paths differ');
    i++;
    const created = lines[i] === 'new file mode 100644';
    if (created) i++;
    if (!/^index [0-9a-f]{7}\.\.[0-9a-f]{7}( 100644)?$/.test(lines[i] ?? '')) fail('expected index line');
    i++;
    if (lines[i] !== (created ? '--- /dev/null' : `--- a/${path}`)) fail('expected --- line');
    i++;
    if (lines[i] !== `+++ b/${path}`) fail('expected +++ line');
    i++;
    let hunks = 0;
    let added = 0;
    let removed = 0;
    while (i < lines.length && lines[i]?.startsWith('@@')) {
      const h = HUNK.exec(lines[i] ?? '') ?? fail('bad hunk header');
      let oldLeft = Number(h[2]);
      let newLeft = Number(h[4]);
      if (created && (h[1] !== '0' || oldLeft !== 0 || h[3] !== '1')) fail('a new file hunk starts at -0,0 +1');
      i++;
      while (oldLeft > 0 || newLeft > 0) {
        const kind = lines[i]?.[0] ?? fail('hunk ends early');
        if (kind === ' ' || kind === '-') oldLeft--;
        if (kind === ' ' || kind === '+') newLeft--;
        if (kind === '-') removed++;
        else if (kind === '+') added++;
        else if (kind !== ' ') fail('not a hunk line');
        if (oldLeft < 0 || newLeft < 0) fail('more lines than the hunk header says');
        i++;
      }
      hunks++;
    }
    if (hunks === 0) fail(`no hunk for ${path}`);
    files.push({ path, created, hunks, added, removed });
  }
  return files;
}
