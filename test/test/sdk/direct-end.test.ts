/**
 * What ends a data channel besides a failure, with real WebRTC (@roamhq/wrtc) on loopback: a peer revoked from
 * elsewhere (as `oppie-sidecar revoke` does, from another process), this device replaced by a newer instance (4501),
 * and what the relay's upgrade metrics count when an upgraded channel closes later.
 */
import { createRequire } from 'node:module';
import {
  type IncomingMessage,
  MemoryStore,
  type OppieClient,
  type OppieError,
  type RtcImplementation,
} from '@oppie/client-sdk';
import { describe, expect, it } from 'vitest';
import { pairedClients, perTest, sdkClient, until } from './sdk-fixture.js';

const rtc = createRequire(import.meta.url)('@roamhq/wrtc') as RtcImplementation;

const env = perTest();

async function directPair(relayUrl: string, sidecarStore = new MemoryStore()) {
  const both = await pairedClients(relayUrl, {
    sidecarStore,
    sidecar: { platform: { rtc } },
    phone: { platform: { rtc } },
  });
  env.closing(both.sidecar, both.phone);
  await until('both sides on the direct path', 15_000, () =>
    both.sidecar.pathTo(both.phone.deviceId) === 'direct' && both.phone.pathTo(both.sidecar.deviceId) === 'direct'
      ? true
      : undefined,
  );
  return both;
}

const relayBy = (a: OppieClient, b: OppieClient) =>
  a.pathTo(b.deviceId) === 'relay' && b.pathTo(a.deviceId) === 'relay' ? true : undefined;

describe('a data channel ends with the session it belongs to', () => {
  it('closes when the peer is revoked from another process, and the revoked device reaches nobody', async () => {
    const t = await env.relay();
    /** A store that lists the keys deleted from it. */
    class WatchedStore extends MemoryStore {
      readonly deleted: string[] = [];
      override async delete(key: string): Promise<void> {
        this.deleted.push(key);
        return super.delete(key);
      }
    }
    const sidecarStore = new WatchedStore();
    const { sidecar, phone } = await directPair(t.url, sidecarStore);
    // The CLI runs on a copy of the store (the same device), so that what it deletes itself does not count here.
    const cliStore = new WatchedStore();
    for (const key of await sidecarStore.keys(''))
      await cliStore.setBytes(key, (await sidecarStore.getBytes(key)) as Uint8Array);
    // A chunk of an unfinished message from the phone, kept for a restart: the rest can never come once it is revoked.
    const kept = `rx/${phone.deviceId}/${'ab'.repeat(16)}/0`;
    await sidecarStore.set(kept, 'AQ');
    await cliStore.set(kept, 'AQ');
    const peerEvents: Array<{ deviceId: string; online: boolean; revoked?: true }> = [];
    sidecar.events.on('peer', (e) => peerEvents.push(e));
    const sidecarErrors: OppieError[] = [];
    sidecar.events.on('error', (e) => sidecarErrors.push(e));
    const phoneErrors: OppieError[] = [];
    phone.events.on('error', (e) => phoneErrors.push(e));
    // The CLI's way: another client on the sidecar's store revokes the phone; the running sidecar is not told.
    const cli = await sdkClient(t.url, 'sidecar', 'workstation', { storage: cliStore });
    env.closing(cli);
    await cli.revoke(phone.deviceId);
    await until('both sides back on the relay', 5_000, () => relayBy(sidecar, phone));
    expect(peerEvents).toContainEqual({ deviceId: phone.deviceId, online: false, revoked: true });
    // Both the client that revoked and the one the relay told forget what they kept of the phone's transfer.
    await until('the kept chunk deleted', 5_000, () =>
      sidecarStore.deleted.includes(kept) && cliStore.deleted.includes(kept) ? true : undefined,
    );
    expect([await sidecarStore.keys('rx/'), await cliStore.keys('rx/')]).toEqual([[], []]);
    expect(phone.state).toBe('closed');
    expect(phoneErrors.map((e) => e.code)).toContain('OPPIE_ERR_CLOSED');
    // Nothing the revoked phone sends reaches the sidecar any more, over any path.
    const atSidecar: IncomingMessage[] = [];
    sidecar.events.on('message', (m) => atSidecar.push(m));
    void phone.send('approve', { id: 'after-revoke' }).catch(() => {});
    await new Promise((r) => setTimeout(r, 1_500));
    expect(atSidecar).toEqual([]);
    expect(sidecar.pathTo(phone.deviceId)).toBe('relay');
    // Closing the channel to a revoked peer sends no report the relay would refuse (it is no longer in the account).
    expect(sidecarErrors.map((e) => e.code)).toEqual([]);
  });

  it('closes when this sidecar is replaced by a newer instance, and the peer reaches the new one directly', async () => {
    const t = await env.relay();
    const sidecarStore = new MemoryStore();
    const { sidecar, phone } = await directPair(t.url, sidecarStore);
    const atOld: IncomingMessage[] = [];
    sidecar.events.on('message', (m) => atOld.push(m));
    // A second daemon on the same store and identity: the relay closes the first session with 4501.
    const newer = await sdkClient(t.url, 'sidecar', 'workstation', { storage: sidecarStore, platform: { rtc } });
    env.closing(newer);
    const atNew: IncomingMessage[] = [];
    newer.events.on('message', (m) => atNew.push(m));
    await newer.connect();
    await until('the old instance closed', 5_000, () => (sidecar.state === 'closed' ? true : undefined));
    expect(sidecar.pathTo(phone.deviceId)).toBe('relay');
    await until('the phone on the direct path to the new instance', 15_000, () =>
      newer.pathTo(phone.deviceId) === 'direct' && phone.pathTo(newer.deviceId) === 'direct' ? true : undefined,
    );
    for (let i = 0; i < 5; i++) await phone.send('runPlan', { i });
    expect(atNew.map((m) => (m.payload as { i: number }).i)).toEqual([0, 1, 2, 3, 4]);
    expect(atOld).toEqual([]);
  });

  it('counts an upgraded attempt once: a channel that closes later is a path change, not a second outcome', async () => {
    const t = await env.relay();
    const { sidecar, phone } = await directPair(t.url);
    const upgradesBefore = await outcomes(t.url);
    expect(upgradesBefore).toEqual({ upgraded: 1 });
    sidecar.resetPath(phone.deviceId);
    await until('the relay, then direct again', 15_000, () =>
      sidecar.pathTo(phone.deviceId) === 'direct' && phone.pathTo(sidecar.deviceId) === 'direct' ? true : undefined,
    );
    // Both attempts upgraded; the close in between changed the path only.
    let seen: Record<string, number> = {};
    for (const started = Date.now(); Date.now() - started < 5_000; await new Promise((r) => setTimeout(r, 50))) {
      seen = await outcomes(t.url);
      if (seen.upgraded === 2) break;
    }
    expect(seen).toEqual({ upgraded: 2 });
  });
});

/** `oppie_relay_transport_reports_total` by outcome, without the path-only reports (`none`). */
async function outcomes(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/api/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^oppie_relay_transport_reports_total\{path="\w+",outcome="(\w+)"\} (\d+)/gm)) {
    const outcome = m[1] as string;
    if (outcome !== 'none') out[outcome] = (out[outcome] ?? 0) + Number(m[2]);
  }
  return out;
}
