import { beforeAll, describe, expect, it } from 'vitest';
import { deviceIdOf, generateIdentity, type Identity } from '../../src/crypto/identity.js';
import { PeerSession } from '../../src/crypto/session.js';
import { fromB64u, toB64u } from '../../src/crypto/sodium.js';
import { pwaAcceptConfirm, pwaHello, sidecarAcceptHello } from '../../src/pairing/handshake.js';
import { formatPairingLink, newPairingSecret, type PairingLink, parsePairingLink } from '../../src/pairing/link.js';
import { decodePairHello, encodePairHello, pwaProof } from '../../src/pairing/proof.js';

let sidecar: Identity;
let pwa: Identity;
let evil: Identity;
let link: PairingLink;

beforeAll(async () => {
  [sidecar, pwa, evil] = await Promise.all([generateIdentity(), generateIdentity(), generateIdentity()]);
  link = parsePairingLink(
    formatPairingLink({
      relayUrl: 'http://127.0.0.1:8080',
      code: 'ABCDEFGH-ABCDEFGHIJKLMNOPQRSTUVWX',
      sidecarDeviceId: await deviceIdOf(sidecar.publicKey),
      sidecarPublicKey: toB64u(sidecar.publicKey),
      secret: newPairingSecret(),
    }),
  );
});

const offerOf = (l: PairingLink) => ({ code: l.code, secret: l.secret, sidecarPublicKey: l.sidecarPublicKey });

describe('pairing handshake', () => {
  it('honest run: both accept, show the same SAS, and then talk end to end', async () => {
    const pwaPk = toB64u(pwa.publicKey);
    const hello = await pwaHello(link, pwaPk);
    const atSidecar = await sidecarAcceptHello(offerOf(link), hello, await deviceIdOf(pwa.publicKey));
    expect(atSidecar.pwaPublicKey).toBe(pwaPk);
    const atPwa = await pwaAcceptConfirm(link, pwaPk, atSidecar.confirm);
    expect(atPwa.sas).toBe(atSidecar.sas);

    const s = await PeerSession.create(sidecar, fromB64u(atSidecar.pwaPublicKey), 'sidecar');
    const p = await PeerSession.create(pwa, fromB64u(link.sidecarPublicKey), 'pwa');
    const h = { from: p.selfDeviceId, to: p.peerDeviceId, type: 'chat', id: 'x', seq: 0 };
    expect(s.open(h, p.seal(h, new Uint8Array([1, 2, 3])))).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('sidecar refuses a hello whose key the relay swapped (with the sender id to match)', async () => {
    const honest = decodePairHello(await pwaHello(link, toB64u(pwa.publicKey)));
    const swapped = encodePairHello({ ...honest, pwaPublicKey: toB64u(evil.publicKey) });
    await expect(sidecarAcceptHello(offerOf(link), swapped, await deviceIdOf(evil.publicKey))).rejects.toMatchObject({
      code: 'OPPIE_ERR_PAIRING_PROOF',
    });
  });

  it('sidecar refuses an honest hello delivered under another sender id', async () => {
    const hello = await pwaHello(link, toB64u(pwa.publicKey));
    await expect(sidecarAcceptHello(offerOf(link), hello, await deviceIdOf(evil.publicKey))).rejects.toMatchObject({
      code: 'OPPIE_ERR_PAIRING_PROOF',
    });
  });

  it('sidecar refuses a hello made with a wrong secret', async () => {
    const evilPk = toB64u(evil.publicKey);
    const proof = await pwaProof(newPairingSecret(), link.code, link.sidecarPublicKey, evilPk);
    const hello = encodePairHello({ v: 1, pwaPublicKey: evilPk, proof });
    await expect(sidecarAcceptHello(offerOf(link), hello, await deviceIdOf(evil.publicKey))).rejects.toMatchObject({
      code: 'OPPIE_ERR_PAIRING_PROOF',
    });
  });

  it('PWA refuses a confirm from a relay posing as the sidecar', async () => {
    // The relay, not knowing the secret, answers as a sidecar that holds a guessed secret.
    const fakeLink = { ...link, secret: newPairingSecret(), sidecarPublicKey: toB64u(evil.publicKey) };
    const pwaPk = toB64u(pwa.publicKey);
    const fake = await sidecarAcceptHello(
      offerOf(fakeLink),
      await pwaHello(fakeLink, pwaPk),
      await deviceIdOf(pwa.publicKey),
    );
    await expect(pwaAcceptConfirm(link, pwaPk, fake.confirm)).rejects.toMatchObject({
      code: 'OPPIE_ERR_PAIRING_PROOF',
    });
  });

  it('PWA refuses a confirm made for another PWA key', async () => {
    const evilPk = toB64u(evil.publicKey);
    const forEvil = await sidecarAcceptHello(
      offerOf(link),
      await pwaHello(link, evilPk),
      await deviceIdOf(evil.publicKey),
    );
    await expect(pwaAcceptConfirm(link, toB64u(pwa.publicKey), forEvil.confirm)).rejects.toMatchObject({
      code: 'OPPIE_ERR_PAIRING_PROOF',
    });
  });
});
