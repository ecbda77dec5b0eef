/**
 * Opening a device's WebSocket session the way a client does: subprotocols `oppie.v1` + `bearer.<token>`, or the
 * token in `?jwt=`.
 */
import type { IncomingMessage } from 'node:http';
import { TOKEN_SUBPROTOCOL_PREFIX, type WelcomePayload, WS_SUBPROTOCOL } from '@oppie/protocol';
import WebSocket from 'ws';
import { asErrorBody, TestKitError } from './errors.js';
import { TestSocket } from './socket.js';

export interface ConnectOptions {
  /** Where the token goes: the `bearer.` subprotocol (default), `?jwt=`, or nowhere (unauthenticated attempts). */
  readonly auth?: 'subprotocol' | 'query' | 'none';
  /** Exact subprotocols to offer instead of the ones `auth` implies. */
  readonly protocols?: readonly string[];
  /** Source address (e.g. `127.0.0.3`), to spread many sockets over several addresses. */
  readonly localAddress?: string;
  /** Acknowledge every routed envelope on arrival. Default false. */
  readonly autoAck?: boolean;
  /** Resolve only once the welcome frame arrived (consumed, kept in `welcome`). Default true. */
  readonly waitForWelcome?: boolean;
  /** Limit for the upgrade and the welcome. Default 5,000 ms. */
  readonly timeoutMs?: number;
  /** Extra upgrade request headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Path of the session endpoint. Default `/session`. */
  readonly path?: string;
}

/** A connected device: the socket, plus its welcome when it was awaited. */
export interface ConnectedSocket extends TestSocket {
  readonly welcome: WelcomePayload | undefined;
}

/** `http://host:port` -> `ws://host:port/session`, with the optional query. */
export function sessionUrl(url: string, path = '/session', query: Record<string, string> = {}): string {
  const u = new URL(path, url);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  return u.toString();
}

/**
 * Opens a session for a device. Rejects with `TESTKIT_UPGRADE_REFUSED` (status and the relay's `{ code, message }`)
 * when the upgrade is refused, `TESTKIT_CLOSED` when the relay closes before its welcome, `TESTKIT_TIMEOUT`.
 *
 * @param device a token, or a device (its id is then known before the welcome)
 * @example
 * const phone = await connectDevice(url, phoneDevice, { autoAck: true });
 * phone.welcome?.devices; // the account's devices and their presence
 */
export async function connectDevice(
  url: string,
  device: string | { readonly token: string; readonly deviceId?: string },
  opts: ConnectOptions = {},
): Promise<ConnectedSocket> {
  const token = typeof device === 'string' ? device : device.token;
  const auth = opts.auth ?? 'subprotocol';
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const protocols = opts.protocols ?? [
    WS_SUBPROTOCOL,
    ...(auth === 'subprotocol' ? [TOKEN_SUBPROTOCOL_PREFIX + token] : []),
  ];
  const target = sessionUrl(url, opts.path, auth === 'query' ? { jwt: token } : {});
  const ws = new WebSocket(target, [...protocols], {
    handshakeTimeout: timeoutMs,
    ...(opts.localAddress !== undefined && { localAddress: opts.localAddress }),
    ...(opts.headers !== undefined && { headers: { ...opts.headers } }),
  });
  const socket = new TestSocket(ws, {
    deviceId: typeof device === 'string' ? undefined : device.deviceId,
    autoAck: opts.autoAck,
  }) as TestSocket & { welcome: WelcomePayload | undefined };
  socket.welcome = undefined;
  await opened(ws, timeoutMs);
  if (opts.waitForWelcome === false) return socket;
  try {
    const welcome = await socket.next('welcome', undefined, timeoutMs);
    socket.welcome = welcome.payload;
    socket.deviceId = welcome.payload.deviceId;
  } catch (err) {
    ws.terminate();
    throw err;
  }
  return socket;
}

function opened(ws: WebSocket, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new TestKitError('TESTKIT_TIMEOUT', `WebSocket upgrade did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err?: Error) => {
      clearTimeout(timer);
      ws.off('open', onOpen);
      ws.off('error', onError);
      ws.off('unexpected-response', onRefused);
      if (err) reject(err);
      else resolve();
    };
    const onOpen = () => done();
    const onError = (err: Error) =>
      done(new TestKitError('TESTKIT_CONNECT_FAILED', `WebSocket connect failed: ${err.message}`, { cause: err }));
    const onRefused = (_req: unknown, res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        const parsed = asErrorBody(body);
        const status = res.statusCode ?? 0;
        const detail = parsed === undefined ? text.slice(0, 200) : `${parsed.code}: ${parsed.message}`;
        done(
          new TestKitError('TESTKIT_UPGRADE_REFUSED', `upgrade refused with ${status} (${detail})`, {
            status,
            body: parsed,
          }),
        );
        // Handling 'unexpected-response' leaves the handshake to us: end it so the socket reaches CLOSED.
        ws.terminate();
      });
    };
    ws.on('open', onOpen);
    ws.on('error', onError);
    ws.on('unexpected-response', onRefused);
  });
}
