/**
 * Operator commands that work on the relay's store directly (the relay may be running: SQLite in WAL mode allows a
 * second writer process briefly). They use the same configuration as the relay.
 */

import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createAudit } from './audit.js';
import { rotateSigningKey } from './auth/key-ring.js';
import { createEnrollmentToken } from './auth/registration.js';
import { loadConfig } from './config.js';
import { createSqliteStores, openDatabase } from './store/sqlite/index.js';

/**
 * `oppie-relay enroll [--uses N] [--ttl-hours H]` prints a new enrollment token (shown once, stored hashed).
 * `oppie-relay keys rotate` makes a new signing key active; the previous one keeps verifying until its tokens expire.
 */
export async function runAdminCommand(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: [...rest],
    options: {
      uses: { type: 'string', default: '1' },
      'ttl-hours': { type: 'string', default: '24' },
      'data-dir': { type: 'string' },
    },
    allowPositionals: true,
  });
  const config = loadConfig(process.env, values['data-dir'] === undefined ? [] : ['--data-dir', values['data-dir']]);
  const db = openDatabase(config.dataDir);
  const audit = createAudit(config.auditLog ?? join(config.dataDir, 'audit.jsonl'));
  try {
    const stores = createSqliteStores(db);
    if (command === 'enroll') {
      const uses = Number(values.uses);
      const ttlSeconds = Math.round(Number(values['ttl-hours']) * 3600);
      const { token, expiresAt } = await createEnrollmentToken(stores.enrollments, { uses, ttlSeconds, audit });
      process.stdout.write(`${token}\n`);
      process.stderr.write(`enrollment token: ${uses} use(s), expires ${new Date(expiresAt).toISOString()}\n`);
      return 0;
    }
    if (command === 'keys' && positionals[0] === 'rotate') {
      if (config.jwtSigningKeyFile !== undefined) {
        process.stderr.write(
          'JWT_SIGNING_KEY_FILE is set: rotate by installing a new PEM and listing the old public key in JWT_VERIFY_KEY_FILES.\n',
        );
        return 2;
      }
      const r = await rotateSigningKey(stores.signingKeys, { clockSkewSeconds: config.clockSkewSeconds, audit });
      process.stdout.write(
        `active key ${r.kid}${r.previousKid ? `; ${r.previousKid} verifies until ${new Date(r.previousVerifyUntil ?? 0).toISOString()}` : ''}\n`,
      );
      process.stdout.write('Restart (or roll) the relay instances so they load the new key.\n');
      return 0;
    }
    process.stderr.write('usage: oppie-relay enroll [--uses N] [--ttl-hours H] | oppie-relay keys rotate\n');
    return 2;
  } finally {
    db.close();
    await audit.flush();
  }
}
