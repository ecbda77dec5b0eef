/**
 * Builds the single-file browser bundle: dist/browser/oppie-client.js (ESM, minified) with the core SDK, the browser
 * helpers, libsodium-wrappers, qrcode, mitt and simple-peer inside. Prints its size minified and gzipped and writes
 * them to dist/browser/size.json. Built from the TypeScript sources, so it needs no `tsc -b` first.
 *
 *   node client-sdk/scripts/bundle.mjs
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const at = (p) => fileURLToPath(new URL(p, import.meta.url));
const outdir = at('../dist/browser/');
const outfile = `${outdir}oppie-client.js`;

await mkdir(outdir, { recursive: true });
const result = await build({
  entryPoints: [at('../src/browser/bundle.ts')],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: ['es2022'],
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
  // Workspace packages from source, like vitest does; third-party packages through their `browser` fields.
  // simple-peer (and its readable-stream) needs Node's `events`, `buffer` and `process`: the npm packages of those
  // names stand in (`events` and `buffer` resolve by name; the free identifier `process` comes from the injected
  // shim), and `global` is `globalThis`.
  alias: { '@oppie/protocol': at('../../protocol/src/index.ts') },
  inject: [at('./process-shim.js')],
  define: { global: 'globalThis' },
});

const code = await readFile(outfile);
const size = {
  file: 'oppie-client.js',
  minifiedBytes: code.byteLength,
  gzippedBytes: gzipSync(code, { level: 9 }).byteLength,
};
await writeFile(`${outdir}size.json`, `${JSON.stringify(size, null, 2)}\n`);
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`bundle: ${outfile}`);
console.log(
  `bundle: ${kib(size.minifiedBytes)} minified, ${kib(size.gzippedBytes)} gzipped (${size.minifiedBytes} / ${size.gzippedBytes} bytes)`,
);
if (result.warnings.length > 0) console.log(`bundle: ${result.warnings.length} warning(s) above`);
