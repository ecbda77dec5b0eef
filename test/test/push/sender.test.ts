/**
 * A hostile push endpoint cannot hold the relay: an answer that never ends is cut off after a few KiB, one that
 * trickles is cut off at PUSH_TIMEOUT_SECONDS, each counted as `failed`, and the request slot goes to the next push.
 */
import { requireBinary } from '@oppie/test-kit';
import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decryptPush, type PushSetup, pushCount, pushSetup, subscribedPhone } from './fixture.js';

const HAVE_OPENSSL = requireBinary('openssl', 'apt-get install openssl');

let p: PushSetup | undefined;
afterEach(async () => {
  await p?.close();
  p = undefined;
});

describe.runIf(HAVE_OPENSSL)('Web Push to a hostile endpoint', () => {
  it.each([
    ['streams a body that never ends', 'stream', 'PUSH_ERR_RESPONSE_TOO_LARGE'],
    ['trickles a byte a second', 'trickle', 'PUSH_ERR_TIMEOUT'],
  ] as const)('cuts off an endpoint that %s, counts it failed, and sends the next push', async (_, answer, code) => {
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    // One request slot: the second push can only go out once the first one has let go of it.
    p = await pushSetup({ pushTimeoutSeconds: 2, pushConcurrency: 1 }, { logger });
    p.ps.answer = (push) => (push.path === new URL(p!.endpoint).pathname ? answer : 201);
    const { phone: phone2, sub: sub2 } = await subscribedPhone(p, 'phone2');

    const s = await p.connect(p.sidecar);
    const first = s.chat(p.phone.deviceId, 'one', { priority: 'high' });
    expect((await s.ackFor(first.id)).payload.status).toBe('queued');
    await p.ps.nth(0);
    const second = s.chat(phone2.deviceId, 'two', { priority: 'high' });
    expect((await s.ackFor(second.id)).payload.status).toBe('queued');

    // The relay closed the connection of the endless answer (it read a bounded part, or the deadline passed). What
    // the service got written by then is bounded by socket buffers, not by how much the relay was willing to read.
    const written = await p.ps.cutOff(0, 10_000);
    expect(written).toBeLessThan(64 * 1024 * 1024);
    await vi.waitFor(async () => expect(await pushCount(p!.t.url, 'failed')).toBe(1), { timeout: 10_000 });
    // The guard meant for this answer cut it: the byte cap for the endless body, the deadline for the trickle.
    const failures = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'web push failed');
    expect(failures.map((f) => f.err?.code)).toEqual([code]);
    const next = await p.ps.nth(1, 10_000);
    expect(next.path).toBe('/push/phone2');
    expect(JSON.parse(decryptPush(next.body, sub2)).ids).toEqual([second.id]);
    await vi.waitFor(async () => expect(await pushCount(p!.t.url, 'sent')).toBe(1));
    expect(await pushCount(p.t.url, 'failed')).toBe(1);
  });
});
