import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';

export interface PageServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  close(): Promise<void>;
}

/** Answers a request itself (true), or leaves it to the relay (false). */
export type PageHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * A loopback server that serves a page through `serve` and forwards every other request and WebSocket upgrade to
 * the relay, so the page and the relay share one origin (as behind a deployment's reverse proxy; the relay sends no
 * CORS headers). Used by the browser tests and the browser bench.
 *
 * @example
 * const s = await startPageProxy(relay.url, (req, res) => req.url === '/' && (res.end(html), true));
 */
export async function startPageProxy(relayUrl: string, serve: PageHandler): Promise<PageServer> {
  const relay = new URL(relayUrl);
  const relayPort = Number(relay.port);
  const server: Server = createServer((req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (serve(req, res)) return;
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
      upstream.setNoDelay(true);
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
