/** Wire protocol version; bumped only on an incompatible change. */
export const PROTOCOL_VERSION = 1;
/** The WebSocket subprotocol a client offers and the relay selects. */
export const WS_SUBPROTOCOL = 'oppie.v1';
/**
 * Prefix of the second offered subprotocol that carries the JWT (`bearer.<token>`), which keeps the token out of
 * URLs and access logs. Browsers cannot set an Authorization header on a WebSocket.
 */
export const TOKEN_SUBPROTOCOL_PREFIX = 'bearer.';
