import { chmod, lstat, unlink } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { IpcError } from './errors.js';

/**
 * Listens on a Unix socket at `path` with mode 0600, after removing a stale socket file a dead process left.
 * Refuses a path where another process still listens, or a file that is not a socket.
 *
 * @example
 * const server = await listenUnix('/tmp/oppie.sock', (socket) => socket.end('hello\n'));
 */
export async function listenUnix(path: string, onConnection: (socket: Socket) => void): Promise<Server> {
  await removeStaleSocket(path);
  const server = createServer(onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Between bind and chmod the socket has the umask's mode (0755 under the usual 022: connecting needs write
  // permission, so others are already kept out). A 0700 parent directory, like the data dir, closes even that window.
  await chmod(path, 0o600);
  return server;
}

/** Removes a socket file left by a dead process; refuses a live socket or a file that is not a socket. */
async function removeStaleSocket(path: string): Promise<void> {
  const stat = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (stat === undefined) return;
  if (!stat.isSocket()) throw new IpcError('IPC_ERR_NOT_A_SOCKET', `${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new IpcError('IPC_ERR_ADDRESS_IN_USE', `another process is listening on ${path}`);
  await unlink(path);
}
