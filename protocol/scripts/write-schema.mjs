// Regenerates protocol/schema/envelope.schema.json from the TypeBox schemas (run `npm run schema` after a change;
// protocol/test/json-schema.test.ts fails while the committed file is stale).
import { writeFileSync } from 'node:fs';
import { envelopeJsonSchema } from '../dist/index.js';

const out = new URL('../schema/envelope.schema.json', import.meta.url);
writeFileSync(out, `${JSON.stringify(envelopeJsonSchema(), null, 2)}\n`);
console.log(`wrote ${out.pathname}`);
