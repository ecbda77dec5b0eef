import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CLOSE_CODES } from '../src/close-codes.js';
import { ERROR_CODES } from '../src/codes.js';
import {
  APPLICATION_TYPES,
  DEVICE_CONTROL_TYPES,
  RELAY_CONTROL_TYPES,
  ROUTED_CONTROL_TYPES,
} from '../src/message-types.js';

// Table cells may be padded for alignment: compare with runs of spaces collapsed.
const doc = readFileSync(new URL('../../docs/protocol.md', import.meta.url), 'utf8').replace(/ {2,}/g, ' ');

describe('docs/protocol.md stays in step with protocol/', () => {
  it('lists every error code with its HTTP status and close code', () => {
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      const close = 'close' in info ? String(info.close) : '—';
      expect(doc, code).toContain(`| \`${code}\` | ${info.status} | ${close} |`);
    }
  });

  it('lists every close code by number and name', () => {
    for (const [name, code] of Object.entries(CLOSE_CODES)) {
      expect(doc, name).toMatch(new RegExp(`\\| ${code} \\| \`${name}\` \\|`));
    }
  });

  it('describes every message type', () => {
    for (const type of [
      ...APPLICATION_TYPES,
      ...ROUTED_CONTROL_TYPES,
      ...DEVICE_CONTROL_TYPES,
      ...RELAY_CONTROL_TYPES,
    ]) {
      expect(doc, type).toContain(`\`${type}\``);
    }
  });
});
