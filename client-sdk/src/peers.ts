/**
 * Paired peers and their end-to-end sessions. A peer is only ever added after the pairing proof succeeded, so its
 * public key is the one the user's QR code vouched for, never one the relay handed out.
 */

import type { FrameCrypto } from './crypto/aead.js';
import type { Identity } from './crypto/identity.js';
import { PeerSession } from './crypto/session.js';
import { fromB64u } from './crypto/sodium.js';
import { OppieError } from './errors.js';
import type { PeerInfo } from './events.js';
import type { KeyValueStore } from './platform.js';

const PREFIX = 'peers/';

export class Peers {
  private readonly infos = new Map<string, PeerInfo>();
  private readonly sessions = new Map<string, PeerSession>();

  private constructor(
    private readonly store: KeyValueStore,
    private readonly identity: Identity,
    private readonly role: 'sidecar' | 'pwa',
    private readonly frameCrypto?: Partial<FrameCrypto>,
  ) {}

  static async open(
    store: KeyValueStore,
    identity: Identity,
    role: 'sidecar' | 'pwa',
    frameCrypto?: Partial<FrameCrypto>,
  ): Promise<Peers> {
    const peers = new Peers(store, identity, role, frameCrypto);
    for (const key of await store.keys(PREFIX)) {
      const raw = await store.get(key);
      if (raw === undefined) continue;
      try {
        await peers.load(JSON.parse(raw) as PeerInfo);
      } catch (err) {
        throw new OppieError('OPPIE_ERR_STORAGE', `unreadable peer record ${key}`, { cause: err });
      }
    }
    return peers;
  }

  private async load(info: PeerInfo): Promise<void> {
    const session = await PeerSession.create(this.identity, fromB64u(info.publicKey), this.role, this.frameCrypto);
    this.infos.set(info.deviceId, info);
    this.sessions.set(info.deviceId, session);
  }

  async add(info: PeerInfo): Promise<void> {
    await this.load(info);
    await this.store.set(PREFIX + info.deviceId, JSON.stringify(info));
  }

  async remove(deviceId: string): Promise<void> {
    this.infos.delete(deviceId);
    this.sessions.delete(deviceId);
    await this.store.delete(PREFIX + deviceId);
  }

  get(deviceId: string): PeerInfo | undefined {
    return this.infos.get(deviceId);
  }

  session(deviceId: string): PeerSession | undefined {
    return this.sessions.get(deviceId);
  }

  list(): PeerInfo[] {
    return [...this.infos.values()];
  }
}
