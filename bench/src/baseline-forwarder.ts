/**
 * The baseline for the relay benchmarks: a bare `ws` forwarder with the relay's addressing and nothing else. A device
 * connects to `/session?id=<deviceId>`; every text frame is parsed only to read `to` and is forwarded as received.
 * No auth, no validation, no acks, no queue: the relay's cost is measured against this.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type RawData, WebSocket, WebSocketServer } from 'ws';

export interface BaselineForwarder {
  /** `http://127.0.0.1:PORT`, the same shape as the relay's URL. */
  readonly url: string;
  /** Live connections. */
  readonly connections: () => number;
  close(): Promise<void>;
}

/**
 * @example
 * const fwd = await startBaselineForwarder();
 * // ws://127.0.0.1:PORT/session?id=device-a
 */
export async function startBaselineForwarder(host = '127.0.0.1', port = 0): Promise<BaselineForwarder> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(404).end();
  });
  const wss = new WebSocketServer({ server, path: '/session', perMessageDeflate: false });
  const byId = new Map<string, WebSocket>();

  wss.on('connection', (ws, req) => {
    const id = new URL(req.url ?? '/', 'http://x').searchParams.get('id');
    if (id === null || id === '') {
      ws.close(1008, 'id required');
      return;
    }
    byId.get(id)?.close(4501, 'replaced');
    byId.set(id, ws);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) return;
      let to: unknown;
      try {
        to = (JSON.parse(data.toString()) as { to?: unknown }).to;
      } catch {
        return;
      }
      if (typeof to !== 'string') return;
      const target = byId.get(to);
      if (target !== undefined && target.readyState === WebSocket.OPEN) target.send(data, { binary: false });
    });
    ws.on('close', () => {
      if (byId.get(id) === ws) byId.delete(id);
    });
    ws.on('error', () => ws.terminate());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    url: `http://${host}:${addr.port}`,
    connections: () => wss.clients.size,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
