import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type PageServer, startPageProxy } from '@oppie/test-kit';

const pageDir = fileURLToPath(new URL('./page/', import.meta.url));
/** The bundle `npm run bundle` builds (npm test builds it before vitest runs). */
export const bundlePath = fileURLToPath(new URL('../../../client-sdk/dist/browser/oppie-client.js', import.meta.url));

const files: Record<string, { path: string; type: string }> = {
  '/app/': { path: `${pageDir}index.html`, type: 'text/html; charset=utf-8' },
  '/app/app.js': { path: `${pageDir}app.js`, type: 'text/javascript; charset=utf-8' },
  '/app/direct.html': { path: `${pageDir}direct.html`, type: 'text/html; charset=utf-8' },
  '/app/direct.js': { path: `${pageDir}direct.js`, type: 'text/javascript; charset=utf-8' },
  '/app/oppie-client.js': { path: bundlePath, type: 'text/javascript; charset=utf-8' },
};

export type { PageServer } from '@oppie/test-kit';

/** Serves the test page and the bundle under `/app/`; everything else goes to the relay (one origin). */
export function startPageServer(relayUrl: string): Promise<PageServer> {
  return startPageProxy(relayUrl, (req, res) => {
    const file = files[req.url ?? ''];
    if (file === undefined) return false;
    readFile(file.path).then(
      (body) => res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(body),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
    return true;
  });
}
