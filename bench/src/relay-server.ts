/**
 * Child-process entry: the real relay (compiled dist), with a temporary DATA_DIR, no logs, and the overrides the bench
 * passes as JSON in `BENCH_RELAY_OVERRIDES`.
 */
import { type RelayOverrides, startTestRelay } from '@oppie/test-kit';
import { serveChild } from './child-protocol.js';

const overrides = JSON.parse(process.env.BENCH_RELAY_OVERRIDES ?? '{}') as RelayOverrides;
await serveChild(() => startTestRelay(overrides));
