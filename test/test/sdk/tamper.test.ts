import {
  exponentialBackoff,
  type IncomingMessage,
  MemoryStore,
  type OppieClient,
  type OppieError,
} from '@oppie/client-sdk';
import { startTestRelay, startWsMitm, type TestRelay, type WsMitm } from '@oppie/test-kit';
import { afterEach, describe, expect, it } from 'vitest';
import { pairedClients, sdkClient } from './sdk-fixture.js';

let t: TestRelay | undefined;
let mitm: WsMitm | undefined;
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
  await mitm?.close();
  await t?.close();
  t = undefined;
  mitm = undefined;
});

/** A sidecar on the honest relay, and its paired phone reconnected through the relay in the middle. */
async function phoneBehindMitm() {
  t = await startTestRelay();
  mitm = await startWsMitm(t.url);
  const phoneStore = new MemoryStore();
  const { sidecar, phone: direct } = await pairedClients(t.url, { phoneStore });
  await direct.close();
  const phone = await sdkClient(mitm.url, 'pwa', 'phone', {
    storage: phoneStore,
    reconnect: exponentialBackoff({ baseMs: 20, maxMs: 100 }),
  });
  closers.push(
    () => sidecar.close(),
    () => phone.close(),
  );
  const delivered: IncomingMessage[] = [];
  const errors: OppieError[] = [];
  phone.events.on('message', (m) => delivered.push(m));
  phone.events.on('error', (e) => errors.push(e));
  await phone.connect();
  return { sidecar, phone, delivered, errors, mitm };
}

type Frame = { type: string; seq?: number; payload: unknown; metadata?: { deviceId: string } };
const routedTo = (text: string, type: string) => (JSON.parse(text) as Frame).type === type;

async function settle(ms = 400) {
  await new Promise((r) => setTimeout(r, ms));
}

describe('a relay that tampers', () => {
  it('changed ciphertext: refused with OPPIE_ERR_DECRYPT, nothing delivered', async () => {
    const { sidecar, delivered, errors, mitm } = await phoneBehindMitm();
    mitm.setTamper((dir, text) => {
      if (dir !== 'toDevice' || !routedTo(text, 'progress')) return [text];
      const f = JSON.parse(text) as Frame;
      const p = f.payload as string;
      f.payload = (p[5] === 'A' ? 'B' : 'A') + p.slice(1, 5) + (p[5] === 'A' ? 'B' : 'A') + p.slice(6);
      return [JSON.stringify(f)];
    });
    void sidecar.send('progress', { secret: 1 }).catch(() => {});
    await settle();
    expect(delivered).toEqual([]);
    expect(errors.map((e) => e.code)).toContain('OPPIE_ERR_DECRYPT');
  });

  it('changed header (seq, type): refused with OPPIE_ERR_DECRYPT, nothing delivered', async () => {
    const { sidecar, delivered, errors, mitm } = await phoneBehindMitm();
    let n = 0;
    mitm.setTamper((dir, text) => {
      if (dir !== 'toDevice' || !routedTo(text, 'progress')) return [text];
      const f = JSON.parse(text) as Frame;
      if (n++ % 2 === 0) f.seq = (f.seq ?? 0) + 1;
      else f.type = 'approve';
      return [JSON.stringify(f)];
    });
    void sidecar.send('progress', { a: 1 }).catch(() => {});
    void sidecar.send('progress', { a: 2 }).catch(() => {});
    await settle();
    expect(delivered).toEqual([]);
    expect(errors.filter((e) => e.code === 'OPPIE_ERR_DECRYPT').length).toBeGreaterThanOrEqual(2);
  });

  it('replayed and reordered frames: each message delivered once, in order', async () => {
    const { sidecar, delivered, mitm } = await phoneBehindMitm();
    let held: string | undefined;
    mitm.setTamper((dir, text) => {
      if (dir !== 'toDevice' || !routedTo(text, 'chat')) return [text];
      if (held === undefined) {
        held = text; // hold the first back...
        return [];
      }
      const out = [text, held, text, held]; // ...then deliver it after the second, and replay both
      return out;
    });
    const sends = [sidecar.send('chat', { n: 1 }), sidecar.send('chat', { n: 2 })];
    await Promise.all(sends);
    await settle(200);
    expect(delivered.map((m) => (m.payload as { n: number }).n)).toEqual([1, 2]);
  });

  it('a frame forged by the relay in the sidecar name: refused, nothing delivered', async () => {
    const { sidecar, phone, delivered, errors, mitm } = await phoneBehindMitm();
    const forged = {
      type: 'approve',
      id: 'forged-1',
      timestamp: Date.now(),
      to: phone.deviceId,
      seq: 0,
      metadata: { deviceId: sidecar.deviceId },
      payload: Buffer.alloc(80, 7).toString('base64url'),
    };
    mitm.inject(JSON.stringify(forged));
    await settle();
    expect(delivered).toEqual([]);
    expect(errors.map((e) => e.code)).toContain('OPPIE_ERR_DECRYPT');
  });
});

describe('a relay that re-keys a pairing', () => {
  async function pairThroughMitm(tamper: (dir: 'toRelay' | 'toDevice', f: Frame) => Frame) {
    t = await startTestRelay();
    mitm = await startWsMitm(t.url);
    const sidecar = await sdkClient(t.url, 'sidecar', 'ws');
    await sidecar.register();
    await sidecar.connect();
    const offer = await sidecar.createPairing();
    const phone: OppieClient = await sdkClient(mitm.url, 'pwa', 'phone', { pairingTimeoutMs: 5_000 });
    closers.push(
      () => sidecar.close(),
      () => phone.close(),
    );
    const sidecarErrors: string[] = [];
    sidecar.events.on('error', (e) => sidecarErrors.push(e.code));
    mitm.setTamper((dir, text) => {
      const f = JSON.parse(text) as Frame;
      return f.type === 'pair' ? [JSON.stringify(tamper(dir, f))] : [text];
    });
    const phoneResult = await phone.pair(offer.link).then(
      () => 'paired',
      (e: OppieError) => e.code,
    );
    await settle(100);
    return { phoneResult, sidecarErrors, sidecar, phone };
  }

  it('a substituted PWA key fails on both sides with OPPIE_ERR_PAIRING_PROOF', async () => {
    const other = await sdkClient('http://127.0.0.1:1', 'pwa', 'mallory');
    const r = await pairThroughMitm((dir, f) => {
      if (dir !== 'toRelay') return f;
      const hello = JSON.parse(Buffer.from(f.payload as string, 'base64url').toString()) as Record<string, unknown>;
      hello.pwaPublicKey = other.publicKey;
      return { ...f, payload: Buffer.from(JSON.stringify(hello)).toString('base64url') };
    });
    expect(r.phoneResult).toBe('OPPIE_ERR_PAIRING_PROOF');
    expect(r.sidecarErrors).toContain('OPPIE_ERR_PAIRING_PROOF');
    expect(r.sidecar.peers()).toEqual([]);
    expect(r.phone.peers()).toEqual([]);
  });

  it('a forged sidecar confirmation fails on the PWA with OPPIE_ERR_PAIRING_PROOF', async () => {
    const r = await pairThroughMitm((dir, f) => {
      if (dir !== 'toDevice') return f;
      const confirm = { v: 1, proof: Buffer.alloc(32, 9).toString('base64url') };
      return { ...f, payload: Buffer.from(JSON.stringify(confirm)).toString('base64url') };
    });
    expect(r.phoneResult).toBe('OPPIE_ERR_PAIRING_PROOF');
    expect(r.phone.peers()).toEqual([]);
  });
});
