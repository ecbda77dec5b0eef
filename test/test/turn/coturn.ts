import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';

const SCRIPT = new URL('../../../turn/scripts/dev-turnserver.sh', import.meta.url).pathname;

export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const { port } = s.address();
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Coturn {
  readonly port: number;
  /** What coturn printed so far (for failure messages). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * A real coturn on loopback through turn/scripts/dev-turnserver.sh (TURN REST auth with `secret`, UDP and TCP on
 * one port), ready when it returns. Check `requireBinary('turnserver', ...)` first.
 */
export async function startCoturn(secret: string, relayPorts: [number, number] = [49400, 49500]): Promise<Coturn> {
  const port = await freeUdpPort();
  let log = '';
  const child: ChildProcess = spawn('bash', [SCRIPT], {
    env: {
      ...process.env,
      TURN_PORT: String(port),
      TURN_SECRET: secret,
      TURN_MIN_PORT: String(relayPorts[0]),
      TURN_MAX_PORT: String(relayPorts[1]),
    },
  });
  child.stdout?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 10_000;
  while (!/Total General servers/i.test(log)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`coturn did not start: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, log: () => log, stop };
}
