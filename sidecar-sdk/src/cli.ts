#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import {
  type CliClient,
  type CliContext,
  devicesCommand,
  pairCommand,
  revokeCommand,
  runCommand,
} from './cli-commands.js';
import {
  type HeapTuning,
  MAX_HEAP_GROWING_PERCENT,
  STREAMING_HEAP_GROWING_PERCENT,
  tuneHeapForStreaming,
} from './heap-tuning.js';
import { createSidecar, type SidecarOptions } from './sidecar.js';

export const USAGE = `usage: oppie-sidecar <pair | devices | revoke <device-id> | run --ipc <path>> [--relay URL] [--name N] [--data-dir D]

  pair              show a pairing link and QR code, wait for a phone to pair, print the check code
  devices           list the devices of this account
  revoke <id>       revoke a device
  run --ipc <path>  bridge local processes on a Unix socket to the paired devices until SIGINT/SIGTERM

  --relay URL         relay base URL (env OPPIE_RELAY_URL, default http://127.0.0.1:8080)
  --name N            this workstation's name (env OPPIE_SIDECAR_NAME, default the host name)
  --data-dir D        identity and outbox directory (env OPPIE_SIDECAR_DIR, default ~/.oppie-sidecar)
  --enrollment-token  first run only, when the relay requires one (env OPPIE_ENROLLMENT_TOKEN)

  run fixes V8's old-generation growth at ${STREAMING_HEAP_GROWING_PERCENT}% (env OPPIE_SIDECAR_HEAP_GROWTH, percent; 0 leaves V8's own)
`;

/** Everything the CLI touches outside itself, so tests can drive it without a process. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Defaults to {@link createSidecar}. */
  readonly createClient?: (opts: SidecarOptions) => Promise<CliClient>;
  /** Resolves when `run` should stop; defaults to the first SIGINT or SIGTERM. */
  readonly untilStopped?: () => Promise<string>;
  /** Renders the pairing link as a terminal QR code; defaults to the client SDK's `pairingQrTerminal` if present. */
  readonly qr?: (link: string) => Promise<string | undefined>;
  /** What `run` tunes the heap with; defaults to {@link tuneHeapForStreaming} on this process. */
  readonly tuneHeap?: (percent: number) => HeapTuning;
}

class UsageError extends Error {}

/**
 * Runs the `oppie-sidecar` command line and resolves with the exit code: 0 done, 1 failed, 2 bad arguments.
 *
 * @example
 * const code = await runCli(['devices', '--relay', 'http://127.0.0.1:8080'], {
 *   stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), env: process.env,
 * });
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let ctx: CliContext;
  let command: string;
  let rest: string[];
  let heapGrowth: number;
  try {
    ({ ctx, command, rest, heapGrowth } = parse(argv, io));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr(`oppie-sidecar: ${err.message}\n${USAGE}`);
    return 2;
  }
  try {
    if (command === 'help') io.stdout(USAGE);
    else if (command === 'pair') await pairCommand(ctx);
    else if (command === 'devices') await devicesCommand(ctx);
    else if (command === 'revoke') await revokeCommand(ctx, rest[0]!);
    else {
      // A daemon that streams for hours: without this, V8 may settle into a full collection every few hundred ms.
      const tuned = (io.tuneHeap ?? ((percent) => tuneHeapForStreaming({ percent })))(heapGrowth);
      if (tuned.outcome === 'set') io.stderr(`V8 old-generation growth fixed at ${tuned.percent}%\n`);
      await runCommand(ctx);
    }
    return 0;
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e?.code === 'string' ? `${e.code}: ` : '';
    io.stderr(`oppie-sidecar: ${code}${typeof e?.message === 'string' ? e.message : String(err)}\n`);
    return 1;
  }
}

function parse(
  argv: readonly string[],
  io: CliIo,
): { ctx: CliContext; command: string; rest: string[]; heapGrowth: number } {
  let parsed: ReturnType<typeof parseOnly>;
  try {
    parsed = parseOnly(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const [command = values.help ? 'help' : undefined, ...rest] = positionals;
  if (command === undefined) throw new UsageError('a command is required');
  const arity: Record<string, number> = { help: 0, pair: 0, devices: 0, revoke: 1, run: 0 };
  if (!(command in arity)) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  if (rest.length !== arity[command]) throw new UsageError(`${command} takes ${arity[command]} argument(s)`);
  if (command === 'run' && !values.ipc) throw new UsageError('run needs --ipc <socket path>');
  if (command !== 'run' && values.ipc !== undefined) throw new UsageError('--ipc only applies to run');
  const relayUrl = values.relay ?? io.env.OPPIE_RELAY_URL ?? 'http://127.0.0.1:8080';
  if (!/^https?:\/\/[^/]/.test(relayUrl)) throw new UsageError(`--relay must be an http(s):// URL, got ${relayUrl}`);
  const enrollmentToken = values['enrollment-token'] ?? io.env.OPPIE_ENROLLMENT_TOKEN;
  // Only `run` tunes the heap: a bad value must not stop the other commands.
  const heapGrowth = command === 'run' ? heapGrowthFrom(io.env.OPPIE_SIDECAR_HEAP_GROWTH) : 0;
  const options: SidecarOptions = {
    relayUrl,
    name: values.name ?? io.env.OPPIE_SIDECAR_NAME ?? hostname(),
    dataDir: values['data-dir'] ?? io.env.OPPIE_SIDECAR_DIR ?? join(homedir(), '.oppie-sidecar'),
    ...(enrollmentToken === undefined ? {} : { enrollmentToken }),
  };
  const ctx: CliContext = {
    options,
    ipcPath: values.ipc,
    out: io.stdout,
    err: io.stderr,
    createClient: io.createClient ?? createSidecar,
    untilStopped: io.untilStopped ?? untilSignal,
    qr: io.qr ?? lazyQr,
  };
  return { ctx, command, rest, heapGrowth };
}

/** `OPPIE_SIDECAR_HEAP_GROWTH` as a percent for {@link tuneHeapForStreaming} (unset: its default). */
function heapGrowthFrom(growth: string | undefined): number {
  if (growth === undefined) return STREAMING_HEAP_GROWING_PERCENT;
  if (!/^\d{1,4}$/.test(growth) || Number(growth) > MAX_HEAP_GROWING_PERCENT) {
    throw new UsageError(
      `OPPIE_SIDECAR_HEAP_GROWTH must be a percent from 0 to ${MAX_HEAP_GROWING_PERCENT}, got ${growth}`,
    );
  }
  return Number(growth);
}

const OPTION_WORDS = new Set(['--relay', '--name', '--data-dir', '--enrollment-token', '--ipc', '--help', '-h']);

function parseOnly(argv: readonly string[]) {
  // Device ids are base64url and may start with "-": the id after `revoke` is always an argument, never an option.
  const args = [...argv];
  const r = args.indexOf('revoke');
  const id = args[r + 1];
  if (r !== -1 && id !== undefined && id.startsWith('-') && !OPTION_WORDS.has(id.split('=')[0] as string)) {
    args.splice(r + 1, 1);
    args.push('--', id);
  }
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      relay: { type: 'string' },
      name: { type: 'string' },
      'data-dir': { type: 'string' },
      'enrollment-token': { type: 'string' },
      ipc: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve(signal);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** The QR renderer is loaded lazily: the CLI still pairs (link only) with a client SDK that lacks it. */
async function lazyQr(link: string): Promise<string | undefined> {
  const sdk = (await import('@oppie/client-sdk')) as { pairingQrTerminal?: (link: string) => Promise<string> };
  return typeof sdk.pairingQrTerminal === 'function' ? sdk.pairingQrTerminal(link) : undefined;
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false; // the entry script is not a file (node -e, a REPL): not run as the bin
  }
}

if (isMain()) {
  const io: CliIo = {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
  };
  runCli(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
    // Exit even if a stray handle outlives the client's close; unref'd, so it never delays a clean exit.
    setTimeout(() => process.exit(code), 2_000).unref();
  });
}
