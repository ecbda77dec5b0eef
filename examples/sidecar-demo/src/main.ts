#!/usr/bin/env node
/**
 * `oppie-sidecar-demo --relay <url> --state <dir>`: runs the demo sidecar until SIGINT or SIGTERM, showing a pairing
 * QR code while no PWA is paired.
 */
import { parseArgs } from 'node:util';
import { startDemoSidecar } from './demo-sidecar.js';
import { errorText } from './errors.js';
import { showPairing } from './pairing-output.js';
import { untilSignal } from './until-signal.js';

const USAGE = `usage: oppie-sidecar-demo --relay <url> --state <dir> [--name N] [--step-ms MS]

  --relay URL    relay base URL (env OPPIE_RELAY_URL, default http://127.0.0.1:8080)
  --state DIR    identity, pairings and outbox (env OPPIE_DEMO_STATE, default .demo/sidecar)
  --name N       workstation name shown in the PWA (default "demo on <host name>")
  --step-ms MS   time between progress steps (default 400)
`;

/** Parses the arguments, runs the sidecar until a signal; resolves with the exit code (2: bad arguments). */
async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let values: { relay?: string; state?: string; name?: string; 'step-ms'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        relay: { type: 'string' },
        state: { type: 'string' },
        name: { type: 'string' },
        'step-ms': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`oppie-sidecar-demo: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const stepMs = values['step-ms'] === undefined ? undefined : Number(values['step-ms']);
  const demo = await startDemoSidecar({
    relayUrl: values.relay ?? env.OPPIE_RELAY_URL ?? 'http://127.0.0.1:8080',
    stateDir: values.state ?? env.OPPIE_DEMO_STATE ?? '.demo/sidecar',
    ...(values.name !== undefined && { name: values.name }),
    ...(stepMs !== undefined && { stepMs }),
  });
  process.stdout.write(`Demo sidecar ${demo.client.deviceId} connected. Ctrl-C stops it.\n`);
  void showPairing(demo, (t) => process.stdout.write(t));
  const signal = await untilSignal();
  process.stdout.write(`${signal}: closing\n`);
  await demo.close();
  return 0;
}

// The bin entry: it runs on load (nothing imports this file).
main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), 2_000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`oppie-sidecar-demo: ${errorText(err)}\n`);
    process.exit(1);
  },
);
