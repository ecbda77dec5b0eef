/** Child-process entry: the baseline forwarder, driven by the bench over IPC. */
import { startBaselineForwarder } from './baseline-forwarder.js';
import { serveChild } from './child-protocol.js';

await serveChild(() => startBaselineForwarder());
