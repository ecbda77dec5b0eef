import { readFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';

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

export interface PageServer {
  /** `http://127.0.0.1:PORT`: the page is at `/app/`, everything else goes to the relay. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves the test page and the bundle under `/app/` and forwards every other request and WebSocket upgrade to the
 * relay, so the page and the relay share one origin (as behind a deployment's reverse proxy; the relay sends no
 * CORS headers).
 */
export async function startPageServer(relayUrl: string): Promise<PageServer> {
  const relay = new URL(relayUrl);
  const relayPort = Number(relay.port);
  const server: Server = createServer((req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    const file = files[req.url ?? ''];
    if (file !== undefined) {
      readFile(file.path).then(
        (body) => res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(body),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
      return;
    }
    const upstream = request(
      { host: relay.hostname, port: relayPort, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (err) => res.writeHead(502).end(String(err)));
    req.pipe(upstream);
  });
  server.on('upgrade', (req, socket, head) => {
    const upstream = connect(relayPort, relay.hostname, () => {
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    socket.on('close', () => upstream.destroy());
    upstream.on('close', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
