/** The reference PWA's Vite dev server, started in-process, proxying /api and the WebSocket to the relay. */
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DemoError } from './errors.js';

export interface PwaDevServer {
  /** `http://127.0.0.1:<port>/`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts Vite on `root` (examples/pwa) at 127.0.0.1:`port`. `OPPIE_RELAY_URL` is set for the PWA's vite.config,
 * which proxies /api and /session there. Vite is loaded from the PWA package, so the demo runs the same Vite as
 * `npm run build:pwa`.
 *
 * @example
 * const pwa = await startPwaDevServer({ root: 'examples/pwa', port: 5173, relayUrl: relay.url });
 * console.log(pwa.url);
 */
export async function startPwaDevServer(opts: { root: string; port: number; relayUrl: string }): Promise<PwaDevServer> {
  let vite: typeof import('vite');
  try {
    const entry = createRequire(join(opts.root, 'package.json')).resolve('vite');
    vite = (await import(pathToFileURL(entry).href)) as typeof import('vite');
  } catch (err) {
    throw new DemoError('DEMO_ERR_VITE', `cannot load vite for ${opts.root}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  process.env.OPPIE_RELAY_URL = opts.relayUrl;
  try {
    const server = await vite.createServer({
      root: opts.root,
      server: { host: '127.0.0.1', port: opts.port, strictPort: true },
      clearScreen: false,
      logLevel: 'warn',
    });
    await server.listen();
    const url = server.resolvedUrls?.local[0] ?? `http://127.0.0.1:${opts.port}/`;
    return { url, close: () => server.close() };
  } catch (err) {
    throw new DemoError('DEMO_ERR_VITE', `the PWA dev server did not start: ${(err as Error).message}`, { cause: err });
  }
}
