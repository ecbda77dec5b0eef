/**
 * Authentication before the WebSocket exists: the upgrade request is checked (path, address rate, token, limits)
 * and refused with a plain HTTP response (401, 429, 503...) carrying the error code, so a bad client never gets a
 * socket. The token comes from the `bearer.<jwt>` subprotocol or `?jwt=`; it is never logged.
 */
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { type RelayError, TOKEN_SUBPROTOCOL_PREFIX, WS_SUBPROTOCOL } from '@oppie/protocol';

export function tokenFromRequest(req: IncomingMessage): string | undefined {
  const offered = req.headers['sec-websocket-protocol'];
  if (offered !== undefined) {
    for (const p of offered.split(',')) {
      const proto = p.trim();
      if (proto.startsWith(TOKEN_SUBPROTOCOL_PREFIX)) return proto.slice(TOKEN_SUBPROTOCOL_PREFIX.length);
    }
  }
  const q = req.url?.indexOf('?') ?? -1;
  if (q === -1) return undefined;
  return new URLSearchParams(req.url?.slice(q + 1)).get('jwt') ?? undefined;
}

/** The subprotocol the relay answers with; browsers fail a handshake that offered protocols and got none back. */
export function selectProtocol(protocols: Set<string>): string | false {
  return protocols.has(WS_SUBPROTOCOL) ? WS_SUBPROTOCOL : false;
}

export function clientIp(req: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const fwd = req.headers['x-forwarded-for'];
    const first = (Array.isArray(fwd) ? fwd[0] : fwd)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? 'unknown';
}

/** Writes an HTTP error response on the raw socket and closes it. */
export function refuseUpgrade(socket: Duplex, err: RelayError, extraHeaders: Record<string, string> = {}): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(err.toJSON());
  const headers = {
    Connection: 'close',
    'Content-Type': 'application/json',
    'Content-Length': String(Buffer.byteLength(body)),
    'X-Oppie-Error': err.code,
    ...extraHeaders,
  };
  const head = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\r\n');
  socket.end(`HTTP/1.1 ${err.status} ${STATUS_CODES[err.status] ?? 'Error'}\r\n${head}\r\n\r\n${body}`);
}
