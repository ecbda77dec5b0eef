#!/usr/bin/env node
/**
 * `npm run demo`: the relay (child process), the demo sidecar and the PWA's Vite dev server, all on 127.0.0.1.
 * Prints where to open the PWA and the pairing link; Ctrl-C stops everything.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startDemoSidecar } from './demo-sidecar.js';
import { DemoError, errorText } from './errors.js';
import { showPairing } from './pairing-output.js';
import { startPwaDevServer } from './pwa-dev-server.js';
import { startRelayChild } from './relay-child.js';
import { RunningParts } from './running-parts.js';
import { untilSignal } from './until-signal.js';

/** The repository root, from examples/sidecar-demo/{src,dist}/run-demo. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const USAGE = `usage: npm run demo -- [--pwa-port N] [--relay-port N] [--state DIR]

  --pwa-port N     the PWA dev server's port (env OPPIE_DEMO_PWA_PORT, default 5173)
  --relay-port N   the relay's port (env OPPIE_DEMO_RELAY_PORT, default 0: a free one)
  --state DIR      relay data and sidecar identity, kept across runs (env OPPIE_DEMO_STATE, default .demo)
`;

function port(value: string | undefined, fallback: number, name: string): number {
  const n = value === undefined ? fallback : Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new DemoError('DEMO_ERR_BAD_OPTION', `${name}: not a port`);
  return n;
}

async function run(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  // Signal handlers first: a Ctrl-C during startup must still stop the relay child, which would outlive us.
  const abort = new AbortController();
  const signalled = untilSignal().then((signal) => {
    abort.abort(signal);
    return signal;
  });
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'pwa-port': { type: 'string' },
      'relay-port': { type: 'string' },
      state: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const out = (text: string) => process.stdout.write(text);
  const state = resolve(values.state ?? env.OPPIE_DEMO_STATE ?? join(ROOT, '.demo'));
  const relayPort = port(values['relay-port'] ?? env.OPPIE_DEMO_RELAY_PORT, 0, '--relay-port');
  const pwaPort = port(values['pwa-port'] ?? env.OPPIE_DEMO_PWA_PORT, 5173, '--pwa-port');
  mkdirSync(join(state, 'relay'), { recursive: true, mode: 0o700 });
  const parts = new RunningParts();
  const stopAll = async () => {
    for (const failure of await parts.stopAll()) out(`stopping ${failure}\n`);
  };

  const relayStart = startRelayChild({
    main: join(ROOT, 'server/dist/main.js'),
    port: relayPort,
    dataDir: join(state, 'relay'),
    log: (line) => out(`[relay] ${line}\n`),
    signal: abort.signal,
  });
  const startup = (async () => {
    const relay = await relayStart;
    await parts.add('relay', () => relay.stop());
    const demo = await startDemoSidecar({
      relayUrl: relay.url,
      stateDir: join(state, 'sidecar'),
      log: (line) => out(`[sidecar] ${line}\n`),
    });
    await parts.add('sidecar', () => demo.close());
    const pwa = await startPwaDevServer({ root: join(ROOT, 'examples/pwa'), port: pwaPort, relayUrl: relay.url });
    await parts.add('vite', () => pwa.close());
    return { relay, demo, pwa };
  })();
  const first = await Promise.race([
    startup.then(
      (started) => ({ started }),
      (err: unknown) => ({ err }),
    ),
    signalled.then((signal) => ({ signal })),
  ]);
  if ('signal' in first) {
    out(`\n${first.signal} during startup: stopping\n`);
    startup.catch(() => {}); // aborted or cut short; what started is stopped below or as it registers
    await relayStart.catch(() => {}); // the abort kills a relay still starting; wait until it is gone
    await stopAll();
    return 0;
  }
  if ('err' in first) {
    await stopAll();
    throw first.err;
  }
  const { relay, demo, pwa } = first.started;
  out(
    `\nOppie demo is running (loopback only; Ctrl-C stops it)\n` +
      `  PWA:    ${pwa.url}\n  Relay:  ${relay.url}\n  State:  ${state}\n\n` +
      (demo.paired()
        ? 'The sidecar is already paired: open the PWA and start a plan.\n'
        : 'Open the PWA, choose Pair and paste the link below (or scan the QR code with the PWA).\n'),
  );
  void showPairing(demo, out);
  const crashed = relay.exited.then((code) => `the relay exited (${code})`);
  const reason = await Promise.race([signalled, crashed]);
  out(`\n${reason}: stopping\n`);
  await stopAll();
  return reason.startsWith('SIG') ? 0 : 1;
}

run(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
    setTimeout(() => process.exit(code), 2_000).unref();
  },
  (err: unknown) => {
    process.stderr.write(`npm run demo: ${errorText(err)}\n`);
    process.exit(1);
  },
);
