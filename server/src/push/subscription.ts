/**
 * Strict checks of a browser push subscription before the relay stores it and, later, posts to its endpoint.
 */
import { createPublicKey } from 'node:crypto';
import { isIP } from 'node:net';
import { type PushSubscriptionRequest, RelayError } from '@oppie/protocol';

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

/** The IPv4 address of an IPv4-mapped IPv6 tail: URL parsing turns `::ffff:127.0.0.1` into `::ffff:7f00:1`. */
function mappedIpv4(tail: string): string {
  if (tail.includes('.')) return tail;
  const [hi = 0, lo = 0] = tail.split(':').map((g) => Number.parseInt(g, 16));
  return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
}

/** Loopback, private, shared, link-local, multicast and unspecified addresses, and `localhost`: never a public push service. */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const family = isIP(host);
  if (family === 4) {
    const [a = 0, b = 0] = host.split('.').map(Number);
    return (
      a === 0 ||
      a === 10 ||
      a === 127 ||
      (a === 169 && b === 254) ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 100 && b >= 64 && b <= 127) ||
      a >= 224
    );
  }
  if (family === 6) {
    if (host === '::' || host === '::1') return true;
    if (host.startsWith('::ffff:')) return isPrivateHost(mappedIpv4(host.slice(7)));
    return /^f[cd]/.test(host) || /^fe[89ab]/.test(host);
  }
  return false;
}

/**
 * Validates `PushSubscription.toJSON()`: an https endpoint (web-push only speaks HTTPS), not on a private address
 * unless `allowPrivate`, a valid uncompressed P-256 point of 65 bytes and a 16-byte auth secret. Throws RelayError
 * RELAY_ERR_PUSH_SUBSCRIPTION_INVALID naming the field at fault.
 *
 * DNS names are not resolved here: a public name that points at a private address is not caught (the push request
 * itself is the only call made to it, with the encrypted wake-up as body).
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
    throw invalid('endpoint is on a loopback or private address (see PUSH_ALLOW_PRIVATE_ENDPOINTS)');
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
  return { endpoint: body.endpoint, p256dh: point.toString('base64url'), auth: auth.toString('base64url') };
}
