/**
 * The audit log: security-relevant events as JSON lines, separate from the service log. It records who did what
 * (device, account, address, outcome, code), never a token, a key, an OTP code or a payload.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino, { type Logger } from 'pino';

export type AuditEvent =
  | 'token.issued'
  | 'token.refused'
  | 'device.registered'
  | 'device.revoked'
  | 'pairing.created'
  | 'pairing.claimed'
  | 'pairing.failed'
  | 'otp.enrolled'
  | 'otp.verified'
  | 'otp.failed'
  | 'approve.forwarded'
  | 'approve.refused'
  | 'enrollment.created'
  | 'keys.rotated';

export interface Audit {
  log(event: AuditEvent, fields: Record<string, string | number | boolean | null | undefined>): void;
  flush(): Promise<void>;
}

/** Field names that must never reach the audit log, whatever a caller passes. */
const FORBIDDEN = ['token', 'jwt', 'payload', 'secret', 'otp', 'signature', 'privateKey'];

/**
 * @param destination a file path (created with mode 0600), "stdout", or "silent"
 * @example
 * const audit = createAudit('./data/audit.jsonl');
 * audit.log('device.revoked', { deviceId, by: claims.deviceId });
 */
export function createAudit(destination: string): Audit {
  if (destination === 'silent') return { log() {}, flush: async () => {} };
  if (destination !== 'stdout') mkdirSync(dirname(destination), { recursive: true });
  // Synchronous writes: audit events are rare (security events, approvals), and an audit line must not sit in a buffer
  // when the process dies. pino's async destination also acknowledges flush() before an in-progress write lands.
  const stream =
    destination === 'stdout'
      ? pino.destination({ fd: 1, sync: true })
      : pino.destination({ dest: destination, sync: true, mkdir: true, mode: 0o600 });
  const logger: Logger = pino(
    { base: { log: 'audit' }, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: FORBIDDEN, remove: true } },
    stream,
  );
  return {
    log(event, fields) {
      logger.info({ event, ...fields });
    },
    async flush() {
      stream.flushSync();
    },
  };
}
