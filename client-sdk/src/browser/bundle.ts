/**
 * Entry of the single-file browser bundle (dist/browser/oppie-client.js): the core SDK plus the browser helpers.
 */
export * from '../index.js';
export * from './index.js';
