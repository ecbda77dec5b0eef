export * from './close-codes.js';
export * from './codes.js';
export * from './envelope.js';
export * from './errors.js';
export * from './json-schema.js';
export * from './message-types.js';
export * from './rest.js';
export * from './validate.js';
export { PROTOCOL_VERSION, TOKEN_SUBPROTOCOL_PREFIX, WS_SUBPROTOCOL } from './version.js';
