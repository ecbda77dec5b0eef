/**
 * A relay in the middle, for tests of what a malicious or broken relay can do: it passes REST calls through and sits
 * on the WebSocket, where a `tamper` hook sees every frame in both directions and decides what goes on (changed,
 * duplicated, held back, dropped, or frames of its own).
 */
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';

export type Direction = 'toRelay' | 'toDevice';
/** Returns the frames to pass on instead of `text` (none drops it). */
export type Tamper = (direction: Direction, text: string) => string[];

export interface WsMitm {
  readonly url: string;
  /** Replaces the hook (the default passes every frame unchanged). */
  setTamper(t: Tamper): void;
  /** Injects a frame towards the device on every open session. */
  inject(text: string): void;
  close(): Promise<void>;
}

export async function startWsMitm(relayUrl: string): Promise<WsMitm> {
  const target = new URL(relayUrl);
  let tamper: Tamper = (_d, text) => [text];
  const sessions = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has('oppie.v1') ? 'oppie.v1' : false) });
  const server: Server = createServer((req, res) => {
    const up = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  server.on('upgrade', (req: IncomingMessage, socket, head) => {
    const protocols = (req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    const upstream = new WebSocket(`ws://${target.host}${req.url}`, protocols);
    upstream.on('unexpected-response', (_r, res) => {
      socket.end(`HTTP/1.1 ${res.statusCode} Refused\r\nConnection: close\r\n\r\n`);
    });
    upstream.on('error', () => socket.destroy());
    upstream.on('open', () => {
      wss.handleUpgrade(req, socket, head, (device) => {
        sessions.add(device);
        upstream.on('message', (d) => {
          for (const t of tamper('toDevice', d.toString())) device.send(t);
        });
        device.on('message', (d) => {
          for (const t of tamper('toRelay', d.toString())) upstream.send(t);
        });
        const end = () => {
          sessions.delete(device);
          device.terminate();
          upstream.terminate();
        };
        device.on('close', end);
        upstream.on('close', end);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    setTamper(t) {
      tamper = t;
    },
    inject(text) {
      for (const s of sessions) s.send(text);
    },
    async close() {
      for (const s of sessions) s.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
