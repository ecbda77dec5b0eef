/**
 * What a simulated plan does, derived from its prompt alone: the files it edits, the steps it reports and the diff
 * it proposes. Nothing here touches a disk; the content only has to look like a real change in a TypeScript repo.
 */
import { requestedDiffBytes } from './diff-size.js';
import { seeded } from './seeded.js';
import { addedLines, type FileChange, type Hunk, unifiedDiff } from './unified-diff.js';

export interface PlanScript {
  /** The running steps, in order (the awaiting-approval and final steps come after them). */
  readonly steps: readonly string[];
  readonly title: string;
  readonly unified: string;
  readonly files: number;
}

const STOP_WORDS = new Set([
  'add',
  'create',
  'implement',
  'make',
  'new',
  'a',
  'an',
  'the',
  'to',
  'for',
  'of',
  'and',
  'with',
  'in',
  'on',
  'please',
  'large',
  'size',
]);

function words(prompt: string): string[] {
  const all = prompt.toLowerCase().match(/[a-z][a-z0-9]*/g) ?? [];
  const kept = all.filter((w) => !STOP_WORDS.has(w)).slice(0, 3);
  return kept.length > 0 ? kept : ['change'];
}

const cap = (w: string) => w.charAt(0).toUpperCase() + w.slice(1);

function moduleFile(path: string, fn: string, type: string, route: string): FileChange {
  return {
    path,
    created: true,
    hunks: [
      addedLines([
        `import type { Request, Response } from './http.js';`,
        '',
        `/** The answer of ${route}. */`,
        `export interface ${type} {`,
        `  readonly ok: boolean;`,
        `  readonly checkedAt: string;`,
        '}',
        '',
        '/**',
        ` * Handles GET ${route}.`,
        ' *',
        ' * @example',
        ` * app.get('${route}', ${fn});`,
        ' */',
        `export async function ${fn}(_req: Request, res: Response): Promise<void> {`,
        `  const body: ${type} = { ok: true, checkedAt: new Date().toISOString() };`,
        `  res.json(body);`,
        '}',
      ]),
    ],
  };
}

function serverFile(kebab: string, fn: string, route: string, at: number): FileChange {
  const imports: Hunk = {
    oldStart: 1,
    lines: [
      [' ', `import { createApp } from './http.js';`],
      [' ', `import { logger } from './logger.js';`],
      ['+', `import { ${fn} } from './${kebab}.js';`],
      [' ', ''],
      [' ', 'export function startServer(port: number) {'],
    ],
  };
  const routes: Hunk = {
    oldStart: at,
    section: 'export function startServer(port: number) {',
    lines: [
      [' ', `  app.get('/api/version', versionHandler);`],
      ['-', `  app.listen(port);`],
      ['+', `  app.get('${route}', ${fn});`],
      ['+', `  app.listen(port, () => logger.info({ port }, 'listening'));`],
      [' ', '  return app;'],
      [' ', '}'],
    ],
  };
  return { path: 'src/server.ts', hunks: [imports, routes] };
}

function testFile(path: string, kebab: string, fn: string, route: string): FileChange {
  return {
    path,
    created: true,
    hunks: [
      addedLines([
        `import { describe, expect, it } from 'vitest';`,
        `import { ${fn} } from '../src/${kebab}.js';`,
        `import { fakeResponse } from './fake-http.js';`,
        '',
        `describe('${route}', () => {`,
        `  it('answers ok', async () => {`,
        '    const res = fakeResponse();',
        `    await ${fn}({} as never, res);`,
        '    expect(res.body).toMatchObject({ ok: true });',
        '  });',
        '});',
      ]),
    ],
  };
}

function packageFile(minor: number): FileChange {
  return {
    path: 'package.json',
    hunks: [
      {
        oldStart: 1,
        lines: [
          [' ', '{'],
          [' ', '  "name": "acme-api",'],
          ['-', `  "version": "1.${minor}.0",`],
          ['+', `  "version": "1.${minor + 1}.0",`],
          [' ', '  "type": "module",'],
          [' ', '  "scripts": {'],
        ],
      },
    ],
  };
}

function readmeFile(title: string, route: string, at: number): FileChange {
  return {
    path: 'README.md',
    hunks: [
      {
        oldStart: at,
        section: '## API',
        lines: [
          [' ', '| `GET /api/version` | The deployed version. |'],
          ['+', `| \`GET ${route}\` | ${title}. |`],
          [' ', ''],
          [' ', '## Development'],
        ],
      },
    ],
  };
}

/** A new JSON fixture of generated records, big enough to bring the whole diff to `bytes`. */
function fixtureFile(path: string, kebab: string, seed: ReturnType<typeof seeded>, bytes: number): FileChange {
  const lines = ['['];
  let size = 0; // the headers come on top, so the whole diff ends up at least `bytes`
  const methods = ['GET', 'POST', 'PUT', 'DELETE'] as const;
  for (let i = 0; size < bytes; i++) {
    const line =
      `  { "id": "r${String(i).padStart(7, '0')}", "method": "${seed.pick(methods)}", ` +
      `"route": "/api/${kebab}/${seed.int(10_000)}", "status": ${seed.pick([200, 200, 201, 204, 404, 500])}, ` +
      `"latencyMs": ${seed.int(2_000)}, "bytes": ${seed.int(1 << 20)} },`;
    lines.push(line);
    size += line.length + 2;
  }
  const last = lines.length - 1;
  lines[last] = (lines[last] as string).replace(/,$/, '');
  lines.push(']');
  return { path, created: true, hunks: [addedLines(lines)] };
}

/**
 * The script of the plan for `prompt`: deterministic, several files (TypeScript, JSON, Markdown); with a size
 * trigger (see `requestedDiffBytes`) a generated JSON fixture makes the diff at least that large.
 *
 * @example
 * const s = planScript('Add a health endpoint');
 * s.steps; // ['Reading repository', 'Planning changes', 'Editing src/health-endpoint.ts', ...]
 */
export function planScript(prompt: string): PlanScript {
  const seed = seeded(prompt);
  const w = words(prompt);
  const kebab = w.join('-');
  const fn = `${w[0]}${w.slice(1).map(cap).join('')}Handler`;
  const type = `${w.map(cap).join('')}Status`;
  const route = `/api/${kebab}`;
  const title = cap(prompt.trim().replace(/\s+/g, ' ').slice(0, 72) || 'Change');
  const changes: FileChange[] = [
    moduleFile(`src/${kebab}.ts`, fn, type, route),
    serverFile(kebab, fn, route, 20 + seed.int(30)),
    testFile(`test/${kebab}.test.ts`, kebab, fn, route),
    packageFile(seed.int(20)),
    readmeFile(title, route, 10 + seed.int(40)),
  ];
  const bytes = requestedDiffBytes(prompt);
  if (bytes !== undefined) {
    const base = unifiedDiff(changes).length;
    changes.push(fixtureFile(`fixtures/${kebab}-requests.json`, kebab, seed, bytes - base));
  }
  return {
    steps: ['Reading repository', 'Planning changes', ...changes.map((c) => `Editing ${c.path}`), 'Running tests'],
    title,
    unified: unifiedDiff(changes),
    files: changes.length,
  };
}
