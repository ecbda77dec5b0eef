import { beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity } from '../../src/crypto/identity.js';
import { toB64u } from '../../src/crypto/sodium.js';
import { newPairingSecret } from '../../src/pairing/link.js';
import {
  decodePairConfirm,
  decodePairHello,
  encodePairConfirm,
  encodePairHello,
  pwaProof,
  shortAuthString,
  sidecarProof,
  verifyPwaProof,
  verifySidecarProof,
} from '../../src/pairing/proof.js';

const CODE = 'ABCDEFGH-ABCDEFGHIJKLMNOPQRSTUVWX';
let secret: string;
let sidecarPk: string;
let pwaPk: string;
let evilPk: string;

beforeAll(async () => {
  secret = newPairingSecret();
  [sidecarPk, pwaPk, evilPk] = (await Promise.all([generateIdentity(), generateIdentity(), generateIdentity()])).map(
    (id) => toB64u(id.publicKey),
  ) as [string, string, string];
});

describe('pairing proof', () => {
  it('an honest run verifies on both sides and both show the same 6-digit SAS', async () => {
    const hello = await pwaProof(secret, CODE, sidecarPk, pwaPk);
    expect(await verifyPwaProof(secret, CODE, sidecarPk, pwaPk, hello)).toBe(true);
    const confirm = await sidecarProof(secret, CODE, sidecarPk, pwaPk);
    expect(await verifySidecarProof(secret, CODE, sidecarPk, pwaPk, confirm)).toBe(true);
    const sas = await shortAuthString(secret, CODE, sidecarPk, pwaPk);
    expect(sas).toMatch(/^[0-9]{6}$/);
    expect(await shortAuthString(secret, CODE, sidecarPk, pwaPk)).toBe(sas);
  });

  it('a relay that substitutes the PWA key cannot make the sidecar accept it', async () => {
    // The relay forwards the honest proof with its own key, or makes one without the secret.
    const honest = await pwaProof(secret, CODE, sidecarPk, pwaPk);
    expect(await verifyPwaProof(secret, CODE, sidecarPk, evilPk, honest)).toBe(false);
    const guessed = await pwaProof(newPairingSecret(), CODE, sidecarPk, evilPk);
    expect(await verifyPwaProof(secret, CODE, sidecarPk, evilPk, guessed)).toBe(false);
  });

  it('a relay that substitutes the sidecar key fails on both sides', async () => {
    // The PWA proves over the key it got from the QR code; the relay's sidecar key does not match it.
    const hello = await pwaProof(secret, CODE, sidecarPk, pwaPk);
    expect(await verifyPwaProof(secret, CODE, evilPk, pwaPk, hello)).toBe(false);
    // A confirm made over the relay's key, without the secret, fails at the PWA.
    const forged = await sidecarProof(newPairingSecret(), CODE, evilPk, pwaPk);
    expect(await verifySidecarProof(secret, CODE, sidecarPk, pwaPk, forged)).toBe(false);
    // Even an honest sidecar's proof over the wrong key fails at the PWA.
    const overWrongKey = await sidecarProof(secret, CODE, evilPk, pwaPk);
    expect(await verifySidecarProof(secret, CODE, sidecarPk, pwaPk, overWrongKey)).toBe(false);
  });

  it('a wrong secret or another code fails verification', async () => {
    const wrong = await pwaProof(newPairingSecret(), CODE, sidecarPk, pwaPk);
    expect(await verifyPwaProof(secret, CODE, sidecarPk, pwaPk, wrong)).toBe(false);
    const otherCode = await sidecarProof(secret, 'ZZZZZZZZ-ABCDEFGHIJKLMNOPQRSTUVWX', sidecarPk, pwaPk);
    expect(await verifySidecarProof(secret, CODE, sidecarPk, pwaPk, otherCode)).toBe(false);
  });

  it('a proof cannot be reflected to the other role', async () => {
    const hello = await pwaProof(secret, CODE, sidecarPk, pwaPk);
    expect(await verifySidecarProof(secret, CODE, sidecarPk, pwaPk, hello)).toBe(false);
  });

  it('a malformed proof is a failed proof, not an exception', async () => {
    expect(await verifyPwaProof(secret, CODE, sidecarPk, pwaPk, '***')).toBe(false);
    expect(await verifyPwaProof(secret, CODE, sidecarPk, pwaPk, 'AAAA')).toBe(false);
  });

  it('substituted keys give a different SAS', async () => {
    const sas = await shortAuthString(secret, CODE, sidecarPk, pwaPk);
    expect(await shortAuthString(secret, CODE, sidecarPk, evilPk)).not.toBe(sas);
    expect(await shortAuthString(secret, CODE, evilPk, pwaPk)).not.toBe(sas);
  });

  it('refuses malformed inputs with OPPIE_ERR_PROTOCOL', async () => {
    await expect(pwaProof('short', CODE, sidecarPk, pwaPk)).rejects.toMatchObject({ code: 'OPPIE_ERR_PROTOCOL' });
    await expect(pwaProof(secret, 'a\nb', sidecarPk, pwaPk)).rejects.toMatchObject({ code: 'OPPIE_ERR_PROTOCOL' });
    await expect(pwaProof(secret, CODE, 'AAAA', pwaPk)).rejects.toMatchObject({ code: 'OPPIE_ERR_PROTOCOL' });
  });
});

describe('pair messages', () => {
  it('round-trip', async () => {
    const proof = await pwaProof(secret, CODE, sidecarPk, pwaPk);
    expect(decodePairHello(encodePairHello({ v: 1, pwaPublicKey: pwaPk, proof }))).toEqual({
      v: 1,
      pwaPublicKey: pwaPk,
      proof,
    });
    expect(decodePairConfirm(encodePairConfirm({ v: 1, proof }))).toEqual({ v: 1, proof });
  });

  const raw = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  it.each([
    ['not base64url', '***'],
    ['not JSON', Buffer.from('{').toString('base64url')],
    ['an array', raw([])],
    ['version 2', raw({ v: 2, pwaPublicKey: 'A'.repeat(43), proof: 'A'.repeat(43) })],
    ['an extra field', raw({ v: 1, pwaPublicKey: 'A'.repeat(43), proof: 'A'.repeat(43), name: 'x' })],
    ['a short key', raw({ v: 1, pwaPublicKey: 'AAAA', proof: 'A'.repeat(43) })],
    ['a missing proof', raw({ v: 1, pwaPublicKey: 'A'.repeat(43) })],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]).toString('base64url')],
    ['a huge payload', 'A'.repeat(2000)],
  ])('decodePairHello refuses %s with OPPIE_ERR_PROTOCOL', (_, payload) => {
    expect(() => decodePairHello(payload)).toThrow(expect.objectContaining({ code: 'OPPIE_ERR_PROTOCOL' }));
  });

  it('decodePairConfirm refuses a hello', async () => {
    const hello = encodePairHello({ v: 1, pwaPublicKey: pwaPk, proof: pwaPk });
    expect(() => decodePairConfirm(hello)).toThrow(expect.objectContaining({ code: 'OPPIE_ERR_PROTOCOL' }));
  });
});
