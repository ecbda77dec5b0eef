/**
 * The WebSocket messages as one JSON Schema document (draft 2020-12), generated from the TypeBox schemas. Served by
 * the relay at /api/schema/envelope.json and written to protocol/schema/envelope.schema.json for code generators.
 */
import { DeviceControlEnvelopes, RelayControlEnvelopes, RoutedEnvelopes } from './envelope.js';
import { PROTOCOL_VERSION } from './version.js';

export function envelopeJsonSchema(): Record<string, unknown> {
  const defs: Record<string, unknown> = {};
  const add = (group: string, envelopes: Record<string, unknown>) => {
    for (const [type, schema] of Object.entries(envelopes)) {
      const { $id: _id, ...rest } = schema as { $id?: string };
      defs[`${group}.${type}`] = rest;
    }
  };
  add('routed', RoutedEnvelopes);
  add('device', DeviceControlEnvelopes);
  add('relay', RelayControlEnvelopes);
  const refs = (group: string) =>
    Object.keys(defs)
      .filter((k) => k.startsWith(`${group}.`))
      .map((k) => ({ $ref: `#/$defs/${k}` }));
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://oppie.xyz/schema/relay/v${PROTOCOL_VERSION}/envelope.schema.json`,
    title: 'Oppie Relay WebSocket messages',
    description:
      'One JSON object per text frame. DeviceFrame: what a device may send. RelayFrame: what the relay sends (routed envelopes are forwarded byte for byte).',
    oneOf: [{ $ref: '#/$defs/DeviceFrame' }, { $ref: '#/$defs/RelayFrame' }],
    $defs: {
      ...defs,
      DeviceFrame: { oneOf: [...refs('routed'), ...refs('device')] },
      RelayFrame: { oneOf: [...refs('routed'), ...refs('relay')] },
    },
  };
}
