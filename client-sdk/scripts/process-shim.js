// Injected into the browser bundle (esbuild `inject`): simple-peer and readable-stream use the free identifier
// `process` (process.nextTick, process.env), which browsers lack. Only free `process` references are rewritten;
// `globalThis.process` stays undefined, so Node detection elsewhere (libsodium) is unaffected.
export { default as process } from 'process/browser.js';
