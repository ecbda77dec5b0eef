#!/usr/bin/env node
import { runAdminCommand } from './admin.js';
/**
 * The relay command.
 *
 *   oppie-relay [--flag value ...]          start the relay (flags mirror the environment variables)
 *   oppie-relay enroll [--uses N] [--ttl-hours H]   print a new enrollment token (REGISTRATION=enrollment)
 *   oppie-relay keys rotate                 start signing with a new key; the old one keeps verifying
 *   oppie-relay config                      print the configuration table
 */
import { ConfigError, configTable, loadConfig } from './config.js';
import { createRelay } from './relay.js';

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`usage: oppie-relay [flags] | enroll | keys rotate | config\n\n${configTable()}\n`);
    return 0;
  }
  if (command === 'config') {
    process.stdout.write(`${configTable()}\n`);
    return 0;
  }
  if (command === 'enroll' || command === 'keys') return runAdminCommand(argv);

  const config = loadConfig(process.env, argv);
  const relay = await createRelay({ config });
  const { url } = await relay.start();
  process.stdout.write(`Oppie Relay listening on ${url} (WebSocket ${url.replace(/^http/, 'ws')}/session)\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stdout.write(`${signal}: shutting down gracefully\n`);
      relay.close().then(resolve, (err) => {
        process.stderr.write(`shutdown failed: ${(err as Error).message}\n`);
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      process.stderr.write(`oppie-relay: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    process.stderr.write(`oppie-relay: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
