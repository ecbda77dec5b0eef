import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { envelopeJsonSchema } from '../src/json-schema.js';

describe('published JSON Schema', () => {
  it('matches the committed protocol/schema/envelope.schema.json (run `npm run schema` after a change)', () => {
    const committed = JSON.parse(readFileSync(new URL('../schema/envelope.schema.json', import.meta.url), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(envelopeJsonSchema())));
  });

  it('defines every device and relay frame', () => {
    const s = envelopeJsonSchema() as { $defs: Record<string, unknown> };
    expect(Object.keys(s.$defs)).toEqual(
      expect.arrayContaining(['routed.chat', 'device.ack', 'relay.welcome', 'DeviceFrame', 'RelayFrame']),
    );
  });
});
