/**
 * Strict checks of a browser push subscription before the relay stores it and, later, posts to its endpoint.
 */
import { createPublicKey } from 'node:crypto';
import { type PushSubscriptionRequest, RelayError } from '@oppie/protocol';
import { isPrivateHost } from './address.js';

/** What the stored subscription needs from the request, normalised (base64url without padding). */
export interface ValidSubscription {
  readonly endpoint: string;
  readonly p256dh: string;
  readonly auth: string;
}

const B64URL = /^[A-Za-z0-9_-]+={0,2}$/;

function invalid(message: string): RelayError {
  return new RelayError('RELAY_ERR_PUSH_SUBSCRIPTION_INVALID', message);
}

function decodeKey(value: string, name: string, bytes: number): Buffer {
  if (!B64URL.test(value)) throw invalid(`keys.${name} is not base64url`);
  const raw = Buffer.from(value, 'base64url');
  if (raw.length !== bytes) throw invalid(`keys.${name} must be ${bytes} bytes, got ${raw.length}`);
  return raw;
}

/**
 * Validates `PushSubscription.toJSON()`: an https endpoint (web-push only speaks HTTPS), not on `localhost` or a
 * private address literal and on port 443 unless `allowPrivate`, whose origin is written canonically (no
 * percent-encoding, lower case, no default port), a valid uncompressed P-256 point of 65 bytes and a 16-byte auth
 * secret. Throws RelayError RELAY_ERR_PUSH_SUBSCRIPTION_INVALID naming the field at fault. The endpoint is returned
 * normalised (`URL.href`): what is stored is exactly what was checked and what the sender connects to.
 *
 * This is the fast first refusal only: DNS names are not resolved here. The check that counts runs when a push
 * connects (agent.ts), on every address the name resolves to then.
 *
 * @example
 * const sub = validateSubscription(request.body, { allowPrivate: config.pushAllowPrivateEndpoints });
 */
export function validateSubscription(
  body: PushSubscriptionRequest,
  opts: { readonly allowPrivate: boolean },
): ValidSubscription {
  let url: URL;
  try {
    url = new URL(body.endpoint);
  } catch {
    throw invalid('endpoint is not a URL');
  }
  if (url.protocol !== 'https:') throw invalid('endpoint must be an https: URL');
  if (url.username !== '' || url.password !== '') throw invalid('endpoint must not carry credentials');
  if (!opts.allowPrivate && isPrivateHost(url.hostname)) {
    throw invalid('endpoint is on localhost or a private address (see PUSH_ALLOW_PRIVATE_ENDPOINTS)');
  }
  if (!opts.allowPrivate && url.port !== '')
    throw invalid('endpoint port must be 443 (see PUSH_ALLOW_PRIVATE_ENDPOINTS)');
  // URL parsers disagree on unusual hosts (`127.0.0.1%2eexample.com`, `0x7f.1`, backslashes); a browser serialises
  // PushSubscription.endpoint canonically, so anything else is refused rather than guessed at.
  if (!body.endpoint.startsWith(`${url.origin}/`)) {
    throw invalid(`endpoint must start with its canonical origin ${url.origin}/`);
  }
  const point = decodeKey(body.keys.p256dh, 'p256dh', 65);
  if (point[0] !== 0x04) throw invalid('keys.p256dh must be an uncompressed P-256 point (0x04 prefix)');
  try {
    createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: point.subarray(1, 33).toString('base64url'),
        y: point.subarray(33).toString('base64url'),
      },
      format: 'jwk',
    });
  } catch {
    throw invalid('keys.p256dh is not a point on P-256');
  }
  const auth = decodeKey(body.keys.auth, 'auth', 16);
  return { endpoint: url.href, p256dh: point.toString('base64url'), auth: auth.toString('base64url') };
}
