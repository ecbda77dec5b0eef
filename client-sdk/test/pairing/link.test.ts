import { beforeAll, describe, expect, it } from 'vitest';
import { deviceIdOf, generateIdentity } from '../../src/crypto/identity.js';
import { toB64u } from '../../src/crypto/sodium.js';
import { OppieError } from '../../src/errors.js';
import {
  formatPairingLink,
  newPairingSecret,
  type PairingLink,
  parsePairingLink,
  verifyPairingLinkIdentity,
} from '../../src/pairing/link.js';

let link: PairingLink;

beforeAll(async () => {
  const id = await generateIdentity();
  link = {
    relayUrl: 'https://relay.example.com:8443/base?x=1&y=2',
    code: 'ABCDEFGH-ABCDEFGHIJKLMNOPQRSTUVWX',
    sidecarDeviceId: await deviceIdOf(id.publicKey),
    sidecarPublicKey: toB64u(id.publicKey),
    secret: newPairingSecret(),
  };
});

const errorOf = (fn: () => unknown): OppieError => {
  try {
    fn();
  } catch (err) {
    if (err instanceof OppieError) return err;
    throw err;
  }
  throw new Error('did not throw');
};

describe('pairing link', () => {
  it('round-trips, with the secret only in the fragment', () => {
    const text = formatPairingLink(link);
    expect(text.startsWith('oppie://pair?v=1&relay=https%3A%2F%2Frelay.example.com')).toBe(true);
    const [beforeHash, fragment] = text.split('#');
    expect(beforeHash).not.toContain(link.secret);
    expect(fragment).toBe(`s=${link.secret}`);
    expect(parsePairingLink(text)).toEqual(link);
  });

  it('makes 32-byte random secrets', () => {
    const a = newPairingSecret();
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(a).not.toBe(newPairingSecret());
  });

  it('ignores unknown parameters and surrounding whitespace', () => {
    const text = formatPairingLink(link).replace('?v=1', '?v=1&future=yes');
    expect(parsePairingLink(`  ${text}\n`)).toEqual(link);
  });

  it.each<[string, (t: string) => string, RegExp]>([
    ['another scheme', (t) => t.replace('oppie://', 'https://'), /oppie:\/\/pair/],
    ['no fragment', (t) => t.split('#')[0] as string, /fragment/],
    ['version 2', (t) => t.replace('v=1', 'v=2'), /version 2/],
    ['no code', (t) => t.replace(/&code=[^&]*/, ''), /"code"/],
    ['two codes', (t) => t.replace('&code=', '&code=AAA&code='), /more than once/],
    ['a javascript: relay', (t) => t.replace(/relay=[^&]*/, 'relay=javascript%3Aalert(1)'), /http/],
    ['a relay that is not a URL', (t) => t.replace(/relay=[^&]*/, 'relay=nope'), /not a URL/],
    ['a short key', (t) => t.replace(/pk=[^&#]*/, 'pk=AAAA'), /pk is not 32 bytes/],
    ['a bad secret', (t) => t.replace(/#s=.*/, '#s=***'), /secret is not base64url/],
    ['a newline in the code', (t) => t.replace(/code=[^&]*/, 'code=AB%0ACD'), /code is malformed/],
    ['a huge link', (t) => `${t}&pad=${'a'.repeat(3000)}`, /longer than/],
  ])('refuses %s with OPPIE_ERR_PAIRING_LINK', (_, mutate, message) => {
    const err = errorOf(() => parsePairingLink(mutate(formatPairingLink(link))));
    expect(err.code).toBe('OPPIE_ERR_PAIRING_LINK');
    expect(err.message).toMatch(message);
  });

  it('refuses to format a link it would refuse to parse', () => {
    expect(errorOf(() => formatPairingLink({ ...link, secret: 'short' })).code).toBe('OPPIE_ERR_PAIRING_LINK');
  });

  it('checks that the sidecar id belongs to the key', async () => {
    await expect(verifyPairingLinkIdentity(link)).resolves.toBeUndefined();
    const other = await generateIdentity();
    await expect(
      verifyPairingLinkIdentity({ ...link, sidecarPublicKey: toB64u(other.publicKey) }),
    ).rejects.toMatchObject({ code: 'OPPIE_ERR_PAIRING_LINK' });
  });
});
