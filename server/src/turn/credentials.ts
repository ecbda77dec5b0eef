/**
 * TURN REST credentials (draft-uberti-behave-turn-rest, as coturn's `use-auth-secret` checks them): per device,
 * short-lived, derived from a secret shared with the TURN server, so the relay never stores a TURN password.
 *
 *   username   = "<expiry unix seconds>:<deviceId>"
 *   credential = base64(HMAC-SHA1(secret, username))
 */
import { createHmac } from 'node:crypto';

export interface IceServer {
  readonly urls: string[];
  readonly username?: string;
  readonly credential?: string;
}

export interface TurnOptions {
  readonly stunUrls: readonly string[];
  readonly turnUrls: readonly string[];
  /** The first secret signs; coturn may accept several during a rotation. */
  readonly secrets: readonly string[];
  readonly ttlSeconds: number;
}

/**
 * @example
 * turnCredential('s3cret', 'dev123', 1_800_000_000);
 * // { username: '1800000000:dev123', credential: 'base64...' }
 */
export function turnCredential(secret: string, deviceId: string, expiresAtSeconds: number) {
  const username = `${expiresAtSeconds}:${deviceId}`;
  const credential = createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential };
}

/** The ICE servers a device gets: STUN as is, TURN with credentials minted for it. */
export function iceServersFor(
  opts: TurnOptions,
  deviceId: string,
  nowMs: number,
): { iceServers: IceServer[]; expiresAt: number } {
  const expiresAtSeconds = Math.floor(nowMs / 1000) + opts.ttlSeconds;
  const iceServers: IceServer[] = [];
  if (opts.stunUrls.length > 0) iceServers.push({ urls: [...opts.stunUrls] });
  const secret = opts.secrets[0];
  if (opts.turnUrls.length > 0 && secret !== undefined) {
    iceServers.push({ urls: [...opts.turnUrls], ...turnCredential(secret, deviceId, expiresAtSeconds) });
  }
  return { iceServers, expiresAt: expiresAtSeconds * 1000 };
}

/** Parses the comma-separated configuration values. */
export function turnOptions(config: {
  stunUrls?: string | undefined;
  turnUrls?: string | undefined;
  turnSecrets?: string | undefined;
  turnTtlSeconds: number;
}): TurnOptions {
  const list = (v: string | undefined) =>
    (v ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  return {
    stunUrls: list(config.stunUrls),
    turnUrls: list(config.turnUrls),
    secrets: list(config.turnSecrets),
    ttlSeconds: config.turnTtlSeconds,
  };
}
