/**
 * Serves the reference PWA's production build (examples/pwa/dist) on one origin with the relay, as a deployment's
 * reverse proxy does: files from dist with their MIME types, index.html for app routes, everything else to the relay.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type PageServer, startPageProxy } from '@oppie/test-kit';

/** What `npm run build:pwa` writes (npm test builds it before vitest runs). */
export const PWA_DIST = fileURLToPath(new URL('../../../examples/pwa/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** Paths the relay answers: never shadowed by a file or the SPA fallback. */
const RELAY_PATHS = /^\/(api|session|\.well-known|metrics)(\/|$|\?)/;

async function fileFor(pathname: string): Promise<string | undefined> {
  const rel = normalize(decodeURIComponent(pathname)).replace(/^(\.\.[/\\])+/, '');
  const path = join(PWA_DIST, rel);
  if (!path.startsWith(PWA_DIST)) return undefined;
  const s = await stat(path).catch(() => undefined);
  return s?.isFile() ? path : undefined;
}

/**
 * Starts the same-origin server for the built PWA. Throws when the build is missing.
 *
 * @example
 * const pwa = await startPwaServer(relay.url);
 * await page.goto(pwa.url);
 */
export function startPwaServer(relayUrl: string): Promise<PageServer> {
  if (!existsSync(join(PWA_DIST, 'index.html'))) {
    throw new Error(`${PWA_DIST}index.html is missing: run npm run build:pwa (npm test does)`);
  }
  return startPageProxy(relayUrl, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (RELAY_PATHS.test(url.pathname) || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
    void (async () => {
      const file = (await fileFor(url.pathname === '/' ? '/index.html' : url.pathname)) ?? join(PWA_DIST, 'index.html');
      const body = await readFile(file);
      const headers: Record<string, string> = {
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'cache-control': 'no-store',
      };
      if (url.pathname === '/sw.js') headers['service-worker-allowed'] = '/';
      res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : body);
    })().catch((err: unknown) => res.writeHead(500).end(String(err)));
    return true;
  });
}
