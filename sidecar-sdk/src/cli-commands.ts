import type { BridgeClient } from './ipc-bridge.js';
import { IpcBridge } from './ipc-bridge.js';
import type { SidecarOptions } from './sidecar.js';

/** The part of `OppieClient` the CLI uses. */
export interface CliClient extends BridgeClient {
  readonly deviceId: string;
  connect(): Promise<void>;
  close(): Promise<void>;
  createPairing(): Promise<{
    link: string;
    code: string;
    expiresAt: number;
    completed: Promise<{ deviceId: string; name: string; sas: string }>;
  }>;
  devices(): Promise<
    ReadonlyArray<{ id: string; role: string; name: string; online: boolean; lastSeenAt: number | null }>
  >;
  revoke(deviceId: string): Promise<void>;
}

/** Parsed arguments and injected effects for one command. */
export interface CliContext {
  readonly options: SidecarOptions;
  readonly ipcPath: string | undefined;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly createClient: (opts: SidecarOptions) => Promise<CliClient>;
  readonly untilStopped: () => Promise<string>;
  readonly qr: (link: string) => Promise<string | undefined>;
}

async function withClient(ctx: CliContext, fn: (client: CliClient) => Promise<void>): Promise<void> {
  const client = await ctx.createClient(ctx.options);
  try {
    await fn(client);
  } finally {
    await client.close();
  }
}

/** `pair`: prints the link and QR code, waits for a phone to prove the pairing secret, prints the check code. */
export async function pairCommand(ctx: CliContext): Promise<void> {
  await withClient(ctx, async (client) => {
    await client.connect();
    const pairing = await client.createPairing();
    const qr = await ctx.qr(pairing.link);
    if (qr !== undefined) ctx.out(qr);
    ctx.out(`Pairing link (valid until ${new Date(pairing.expiresAt).toISOString()}):\n${pairing.link}\n`);
    ctx.out('Waiting for a phone to pair...\n');
    const peer = await pairing.completed;
    ctx.out(`Paired with ${peer.name} (${peer.deviceId}).\nCheck that the phone shows the same code: ${peer.sas}\n`);
  });
}

/** `devices`: one line per device of the account. */
export async function devicesCommand(ctx: CliContext): Promise<void> {
  await withClient(ctx, async (client) => {
    const devices = await client.devices();
    for (const d of devices) {
      const self = d.id === client.deviceId ? ' (this sidecar)' : '';
      const seen = d.lastSeenAt === null ? 'never' : new Date(d.lastSeenAt).toISOString();
      ctx.out(`${d.id}\t${d.role}\t${d.online ? 'online' : 'offline'}\tlast seen ${seen}\t${d.name}${self}\n`);
    }
    if (devices.length === 0) ctx.out('no devices\n');
  });
}

/** `revoke <id>`: revokes a device; its tokens stop working and it can no longer reach this account. */
export async function revokeCommand(ctx: CliContext, deviceId: string): Promise<void> {
  await withClient(ctx, async (client) => {
    await client.revoke(deviceId);
    ctx.out(`revoked ${deviceId}\n`);
  });
}

/** `run --ipc <path>`: bridges the socket to the paired devices until stopped, then closes both gracefully. */
export async function runCommand(ctx: CliContext): Promise<void> {
  await withClient(ctx, async (client) => {
    const bridge = new IpcBridge({ path: ctx.ipcPath!, client, log: (m) => ctx.err(`${m}\n`) });
    await bridge.listen();
    ctx.err(`listening on ${ctx.ipcPath}, device ${client.deviceId}\n`);
    try {
      // Local processes may send before the relay answers: the client keeps those in its outbox.
      const connected = client.connect().then(() => ctx.err('connected to the relay\n'));
      const stopped = ctx.untilStopped().then((signal) => ctx.err(`${signal}: closing\n`));
      await Promise.race([stopped, connected.then(() => stopped)]);
    } finally {
      await bridge.close();
    }
  });
}
