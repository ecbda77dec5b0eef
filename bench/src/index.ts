/**
 * @oppie/bench: relay benchmarks, run by hand with `npm run bench:relay`. The baseline forwarder is exported for
 * anyone who wants to compare against it elsewhere.
 */
export { type BaselineForwarder, startBaselineForwarder } from './baseline-forwarder.js';
export { type ServerChild, type ServerKind, spawnServer } from './child.js';
