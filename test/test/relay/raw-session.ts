import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * A WebSocket session opened by hand on a raw TCP socket that then stays silent: it answers no ping and no close
 * frame, like a phone that dropped off the network without a FIN.
 */
export async function silentSession(url: string, token: string): Promise<{ socket: Socket; ended: Promise<void> }> {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port) });
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.write(
        [
          'GET /session HTTP/1.1',
          `Host: ${hostname}:${port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
          'Sec-WebSocket-Version: 13',
          `Sec-WebSocket-Protocol: oppie.v1, bearer.${token}`,
          '',
          '',
        ].join('\r\n'),
      );
    });
    socket.once('data', (chunk) => {
      if (chunk.toString('latin1').startsWith('HTTP/1.1 101')) resolve();
      else reject(new Error(`upgrade refused: ${chunk.toString('latin1').split('\r\n')[0]}`));
    });
  });
  // Keep reading (so the relay's FIN is seen) but never parse or answer a frame.
  socket.on('data', () => {});
  return { socket, ended };
}
