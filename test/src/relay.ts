/**
 * An in-process relay for tests: a fresh temporary DATA_DIR, port 0, no log output, and a `close()` that stops the
 * relay and removes the directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRelay, loadConfig, type OPTIONS } from '@oppie/relay';

/** Relay options by their config key (`envelopesPerSecond`, `maxConnectionsPerAccount`, …). */
export type RelayOverrides = Partial<Record<keyof typeof OPTIONS, string | number | boolean>>;

type Relay = Awaited<ReturnType<typeof createRelay>>;
type RelayOptions = Parameters<typeof createRelay>[0];

export interface TestRelay {
  readonly relay: Relay;
  /** Base URL, `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The temporary data directory (removed by `close()`). */
  readonly dataDir: string;
  /** Stops the relay and removes its data directory. Safe to call twice. */
  close(): Promise<void>;
}

export interface StartTestRelayOptions {
  /** Reuse a data directory (a restart test); it is then left in place on close. */
  readonly dataDir?: string;
  /** A logger for the relay; default: none (`LOG_LEVEL=silent`). */
  readonly logger?: RelayOptions['logger'];
  /** An audit sink; default: one that drops every event. */
  readonly audit?: RelayOptions['audit'];
}

const silentAudit = { log() {}, flush: async () => {} };

/**
 * Starts a relay on 127.0.0.1 with a random port.
 *
 * @example
 * const t = await startTestRelay({ envelopesPerSecond: 10 });
 * try { ... } finally { await t.close(); }
 */
export async function startTestRelay(
  overrides: RelayOverrides = {},
  opts: StartTestRelayOptions = {},
): Promise<TestRelay> {
  const ownDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'oppie-relay-test-')));
  const config = loadConfig({}, [], {
    host: '127.0.0.1',
    port: 0,
    dataDir,
    logLevel: 'silent',
    auditLog: 'silent',
    // Tests close relays with sockets still open; they answer the close at once, so a long grace only slows teardown.
    shutdownGraceSeconds: 2,
    ...overrides,
  });
  let relay: Relay;
  try {
    relay = await createRelay({
      config,
      audit: opts.audit ?? silentAudit,
      ...(opts.logger !== undefined && { logger: opts.logger }),
    });
  } catch (err) {
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  let url: string;
  try {
    ({ url } = await relay.start());
  } catch (err) {
    await relay.close();
    if (ownDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  let closing: Promise<void> | undefined;
  return {
    relay,
    url,
    dataDir,
    close() {
      closing ??= (async () => {
        try {
          await relay.close();
        } finally {
          if (ownDir) await rm(dataDir, { recursive: true, force: true });
        }
      })();
      return closing;
    },
  };
}
