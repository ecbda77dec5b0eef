import { envelopeJsonSchema } from '@oppie/protocol';
import type { App } from '../app.js';

/** GET /api/schema/envelope.json: JSON Schema of every WebSocket message, beside the OpenAPI document. */
export function registerSchemaRoute(app: App): void {
  const schema = envelopeJsonSchema();
  app.get(
    '/api/schema/envelope.json',
    { schema: { tags: ['protocol'], summary: 'WebSocket message JSON Schema' } },
    async () => schema,
  );
}
