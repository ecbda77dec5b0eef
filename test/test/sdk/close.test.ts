import { CLOSE_DRAIN_MS, MemoryStore, OppieError } from '@oppie/client-sdk';
import { describe, expect, it } from 'vitest';
import { pairedClients, perTest, until } from './sdk-fixture.js';

/**
 * A MemoryStore whose writes, once `hold` is set, wait until it is released: a disk that is slow (or stuck) at the
 * moment the app closes the client. It counts the writes begun and landed.
 */
class GatedStore extends MemoryStore {
  hold = false;
  begun = 0;
  landed = 0;
  private waiting: Array<() => void> = [];

  unblock(): void {
    this.hold = false;
    for (const go of this.waiting.splice(0)) go();
  }

  private async gate<R>(write: () => Promise<R>): Promise<R> {
    this.begun += 1;
    if (this.hold) await new Promise<void>((go) => this.waiting.push(go));
    const result = await write();
    this.landed += 1;
    return result;
  }

  override set(key: string, value: string) {
    return this.gate(() => super.set(key, value));
  }

  override setBytes(key: string, value: Uint8Array) {
    return this.gate(() => super.setBytes(key, value));
  }

  override delete(key: string) {
    return this.gate(() => super.delete(key));
  }
}

const t = perTest();

/** Paired clients on a real relay; the sidecar's send is past its checks, its outbox write waiting on the disk. */
async function sendWhileTheDiskHolds() {
  const relay = await t.relay();
  const sidecarStore = new GatedStore();
  const { sidecar, phone } = await pairedClients(relay.url, { sidecarStore });
  t.closing(phone);
  await phone.connect();
  sidecarStore.hold = true;
  const sent = sidecar.send('progress', { n: 1 });
  await until('the outbox write to begin', 5000, () => (sidecarStore.begun > sidecarStore.landed ? true : undefined));
  return { sidecar, sidecarStore, sent };
}

describe('OppieClient.close()', () => {
  it('resolves once the store writes under way have landed, so the stores may be opened again at once', async () => {
    const { sidecar, sidecarStore, sent } = await sendWhileTheDiskHolds();
    setTimeout(() => sidecarStore.unblock(), 100);
    await sidecar.close();
    expect(sidecarStore.landed).toBe(sidecarStore.begun);
    // The frame was persisted before the close took effect: the send reports the close, the outbox keeps it.
    await expect(sent).rejects.toMatchObject({ code: 'OPPIE_ERR_CLOSED' });
    expect(sidecar.pending.entries).toBe(1);
  });

  it(`rejects with OPPIE_ERR_TIMEOUT when a store write is still stuck ${CLOSE_DRAIN_MS} ms later`, async () => {
    const { sidecar, sidecarStore, sent } = await sendWhileTheDiskHolds();
    sent.catch(() => {});
    const started = Date.now();
    const closed = await sidecar.close().then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(closed).toBeInstanceOf(OppieError);
    expect(closed).toMatchObject({ code: 'OPPIE_ERR_TIMEOUT' });
    expect(Date.now() - started).toBeGreaterThanOrEqual(CLOSE_DRAIN_MS - 50);
    expect(sidecarStore.landed).toBeLessThan(sidecarStore.begun);
    // The write lands when the disk comes back, as the rejection warned.
    sidecarStore.unblock();
    await until('the stuck write to land', 5000, () => (sidecarStore.landed === sidecarStore.begun ? true : undefined));
  }, 20_000);
});
