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

/** Attempts at a port before startCoturn gives up: a port free for UDP may be taken for TCP a moment later. */
const START_ATTEMPTS = 3;
/** How long coturn's later listener threads get to report a failed bind after it says it is up. */
const BIND_GRACE_MS = 300;

/**
 * A real coturn on loopback through turn/scripts/dev-turnserver.sh (TURN REST auth with `secret`, UDP and TCP on
 * one port), ready when it returns. A port that coturn cannot bind (free for UDP when picked, but TCP on it taken
 * since, by a listener or an outgoing connection's local port) is given up for another, {@link START_ATTEMPTS} times.
 * Check `requireBinary('turnserver', ...)` first.
 */
export async function startCoturn(secret: string, relayPorts: [number, number] = [49400, 49500]): Promise<Coturn> {
  let logs = '';
  for (let attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
    const coturn = await startOn(await freeUdpPort(), secret, relayPorts);
    await new Promise((r) => setTimeout(r, BIND_GRACE_MS));
    if (!/Cannot bind/i.test(coturn.log())) return coturn;
    await coturn.stop();
    logs += `attempt ${attempt} on port ${coturn.port}:\n${coturn.log()}\n`;
  }
  throw new Error(`coturn could not bind a port in ${START_ATTEMPTS} attempts: ${logs}`);
}

/** coturn on `port`, once it says its servers are up. */
async function startOn(port: number, secret: string, relayPorts: [number, number]): Promise<Coturn> {
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
