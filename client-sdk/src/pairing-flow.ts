/**
 * Pairing with the end-to-end proof. The relay only sees a one-time code; the pairing secret travels in the QR code's
 * URL fragment from the sidecar's screen to the phone's camera. Each side proves knowledge of it with a MAC over both
 * public keys, so a relay that substitutes a key, or a party without the secret, makes pairing fail on both sides.
 */
import type { Emitter } from 'mitt';
import { deviceIdOf, type Identity } from './crypto/identity.js';
import { fromB64u, toB64u } from './crypto/sodium.js';
import { OppieError } from './errors.js';
import type { ClientEvents, PeerInfo } from './events.js';
import { formatPairingLink, newPairingSecret, parsePairingLink } from './pairing/link.js';
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
} from './pairing/proof.js';
import type { Peers } from './peers.js';
import type { Platform } from './platform.js';
import type { RelayApi } from './relay-api.js';
import type { RelayFrameIn } from './transport/relay-connection.js';

export interface PairingDeps {
  readonly deviceId: string;
  readonly identity: Identity;
  readonly role: 'sidecar' | 'pwa';
  readonly relayUrl: string;
  readonly api: RelayApi;
  readonly peers: Peers;
  readonly events: Emitter<ClientEvents>;
  readonly platform: Platform;
  readonly token: () => Promise<string>;
  readonly send: (frame: object) => boolean;
  readonly timeoutMs: number;
}

type Paired = PeerInfo & { sas: string };

interface Offer {
  readonly code: string;
  readonly secret: string;
  readonly expiresAt: number;
  readonly settle: { resolve: (p: Paired) => void; reject: (e: OppieError) => void };
  /** The expiry timer; cleared when the offer settles, so a closed client leaves nothing pending. */
  timer?: unknown;
}

interface Claim {
  readonly sidecarDeviceId: string;
  readonly sidecarPublicKey: string;
  readonly code: string;
  readonly secret: string;
  readonly settle: { resolve: (p: Paired) => void; reject: (e: OppieError) => void };
}

let pairCounter = 0;

export class PairingFlow {
  private readonly offers = new Map<string, Offer>();
  private pending: Claim | undefined;

  constructor(private readonly d: PairingDeps) {}

  private get publicKey(): string {
    return toB64u(this.d.identity.publicKey);
  }

  private frame(to: string, payload: string): object {
    return {
      type: 'pair',
      id: `pair-${++pairCounter}-${this.d.platform.now()}`,
      timestamp: this.d.platform.now(),
      to,
      metadata: { deviceId: this.d.deviceId },
      payload,
    };
  }

  /** Sidecar: a one-time code from the relay plus a fresh secret, as a link for the QR code. */
  async create(): Promise<{ link: string; code: string; expiresAt: number; completed: Promise<Paired> }> {
    if (this.d.role !== 'sidecar') throw new OppieError('OPPIE_ERR_AUTH', 'only a sidecar creates pairings');
    const { code, expiresAt } = await this.d.api.createPairing(await this.d.token());
    const secret = newPairingSecret();
    const link = formatPairingLink({
      relayUrl: this.d.relayUrl,
      code,
      sidecarDeviceId: this.d.deviceId,
      sidecarPublicKey: this.publicKey,
      secret,
    });
    const completed = new Promise<Paired>((resolve, reject) => {
      this.offers.set(code, { code, secret, expiresAt, settle: { resolve, reject } });
    });
    completed.catch(() => {});
    // An offer nobody claimed in time settles and is forgotten, so open offers stay bounded.
    const timer = this.d.platform.timers.setTimeout(
      () => {
        const offer = this.offers.get(code);
        if (offer === undefined) return;
        this.offers.delete(code);
        offer.settle.reject(new OppieError('OPPIE_ERR_PAIRING_TIMEOUT', 'no device completed this pairing in time'));
      },
      Math.max(0, expiresAt - this.d.platform.now()),
    );
    const offer = this.offers.get(code);
    if (offer !== undefined) offer.timer = timer;
    return { link, code, expiresAt, completed };
  }

  /** PWA: claim the code, then prove the secret to the sidecar and check its proof back. */
  async claim(
    link: string,
    name: string,
    joined: (accountId: string, token: string, expiresAt: number) => Promise<void>,
  ): Promise<Paired> {
    const l = parsePairingLink(link);
    if ((await deviceIdOf(fromB64u(l.sidecarPublicKey))) !== l.sidecarDeviceId) {
      throw new OppieError('OPPIE_ERR_PAIRING_LINK', 'the link names a sidecar id that does not match its public key');
    }
    const res = await this.d.api.claimPairing(this.d.identity, l.code, name);
    if (res.sidecarDeviceId !== l.sidecarDeviceId) {
      throw new OppieError('OPPIE_ERR_PAIRING_PROOF', 'the relay paired us with another sidecar than the link names');
    }
    await joined(res.accountId, res.token, res.expiresAt);
    this.pending?.settle.reject(new OppieError('OPPIE_ERR_PAIRING_TIMEOUT', 'superseded by a newer pairing'));
    const done = new Promise<Paired>((resolve, reject) => {
      this.pending = {
        sidecarDeviceId: l.sidecarDeviceId,
        sidecarPublicKey: l.sidecarPublicKey,
        code: l.code,
        secret: l.secret,
        settle: { resolve, reject },
      };
    });
    const proof = await pwaProof(l.secret, l.code, l.sidecarPublicKey, this.publicKey);
    const mine = this.pending;
    if (!this.d.send(this.frame(l.sidecarDeviceId, encodePairHello({ v: 1, pwaPublicKey: this.publicKey, proof })))) {
      this.pending = undefined;
      throw new OppieError('OPPIE_ERR_PAIRING_TIMEOUT', 'not connected to the relay: the pairing hello was not sent');
    }
    const timer = this.d.platform.timers.setTimeout(() => {
      if (this.pending !== mine) return;
      const pending = this.pending;
      this.pending = undefined;
      const err = new OppieError('OPPIE_ERR_PAIRING_TIMEOUT');
      this.d.events.emit('error', err);
      pending?.settle.reject(err);
    }, this.d.timeoutMs);
    try {
      return await done;
    } finally {
      this.d.platform.timers.clearTimeout(timer);
    }
  }

  /** A `pair` frame from the relay. Never throws: failures settle the pairing with a code and emit `error`. */
  async received(f: RelayFrameIn): Promise<void> {
    try {
      if (this.d.role === 'sidecar') await this.hello(f);
      else await this.confirm(f);
    } catch (err) {
      const e = err instanceof OppieError ? err : new OppieError('OPPIE_ERR_PROTOCOL', undefined, { cause: err });
      this.d.events.emit('error', e);
    }
  }

  private async hello(f: RelayFrameIn): Promise<void> {
    const from = f.metadata?.deviceId;
    if (from === undefined) throw new OppieError('OPPIE_ERR_PROTOCOL', 'a pairing hello without a sender');
    const refuse = (why: string): never => {
      // Tell the PWA at once, so it fails with a code instead of waiting for its timeout.
      this.d.send(this.frame(from, encodePairConfirm({ v: 1, proof: toB64u(new Uint8Array(32)) })));
      throw new OppieError('OPPIE_ERR_PAIRING_PROOF', why);
    };
    let hello: ReturnType<typeof decodePairHello>;
    try {
      hello = decodePairHello(String(f.payload));
    } catch {
      return refuse(`device ${from} sent a malformed pairing hello`);
    }
    if ((await deviceIdOf(fromB64u(hello.pwaPublicKey))) !== from) {
      refuse('a pairing hello whose key does not match its sender');
    }
    const now = this.d.platform.now();
    for (const offer of this.offers.values()) {
      if (offer.expiresAt < now) continue;
      if (!(await verifyPwaProof(offer.secret, offer.code, this.publicKey, hello.pwaPublicKey, hello.proof))) continue;
      this.offers.delete(offer.code);
      if (offer.timer !== undefined) this.d.platform.timers.clearTimeout(offer.timer);
      // Stored before any network wait; the display name follows from the relay's device list.
      const peer: PeerInfo = { deviceId: from, name: 'pwa', role: 'pwa', publicKey: hello.pwaPublicKey };
      await this.d.peers.add(peer);
      void this.nameFromRelay(peer);
      const proof = await sidecarProof(offer.secret, offer.code, this.publicKey, hello.pwaPublicKey);
      this.d.send(this.frame(from, encodePairConfirm({ v: 1, proof })));
      const paired = {
        ...peer,
        sas: await shortAuthString(offer.secret, offer.code, this.publicKey, hello.pwaPublicKey),
      };
      this.d.events.emit('paired', paired);
      offer.settle.resolve(paired);
      return;
    }
    // No open offer accepts this proof: a wrong secret or a substituted key.
    refuse(`device ${from} failed the pairing proof`);
  }

  private async confirm(f: RelayFrameIn): Promise<void> {
    const claim = this.pending;
    if (claim === undefined || f.metadata?.deviceId !== claim.sidecarDeviceId) return;
    this.pending = undefined;
    let ok = false;
    try {
      const confirm = decodePairConfirm(String(f.payload));
      ok = await verifySidecarProof(claim.secret, claim.code, claim.sidecarPublicKey, this.publicKey, confirm.proof);
    } catch {
      ok = false; // a malformed confirmation is as good as a wrong one
    }
    if (!ok) {
      const err = new OppieError('OPPIE_ERR_PAIRING_PROOF');
      this.d.events.emit('error', err);
      claim.settle.reject(err);
      return;
    }
    // Stored before any network wait: the sidecar may send its first frame as soon as it confirmed.
    const peer: PeerInfo = {
      deviceId: claim.sidecarDeviceId,
      name: 'sidecar',
      role: 'sidecar',
      publicKey: claim.sidecarPublicKey,
    };
    await this.d.peers.add(peer);
    void this.nameFromRelay(peer);
    const paired = {
      ...peer,
      sas: await shortAuthString(claim.secret, claim.code, claim.sidecarPublicKey, this.publicKey),
    };
    this.d.events.emit('paired', paired);
    claim.settle.resolve(paired);
  }

  /** Display names are not part of the proof: they come from the relay's device list, best effort. */
  private async nameFromRelay(peer: PeerInfo): Promise<void> {
    try {
      const name = (await this.d.api.devices(await this.d.token())).find((d) => d.id === peer.deviceId)?.name;
      if (name !== undefined && this.d.peers.get(peer.deviceId) !== undefined)
        await this.d.peers.add({ ...peer, name });
    } catch {
      // Keeps the role as its name; nothing depends on it.
    }
  }

  close(): void {
    for (const o of this.offers.values()) {
      if (o.timer !== undefined) this.d.platform.timers.clearTimeout(o.timer);
      o.settle.reject(new OppieError('OPPIE_ERR_CLOSED'));
    }
    this.offers.clear();
    this.pending?.settle.reject(new OppieError('OPPIE_ERR_CLOSED'));
    this.pending = undefined;
  }
}
