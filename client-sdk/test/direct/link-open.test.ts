/**
 * When a direct-path attempt opens, with real WebRTC (@roamhq/wrtc) on loopback: the upgrade timer waits for the
 * encrypted probe only, so an attempt whose probe passed opens even when the timer runs out while it waits for the
 * peer's view of the path; and one whose own stats never come back opens as well, on the view it falls back to.
 * Then what an open link sends first (receipts ahead of held frames), how large a message it sends (what its peer
 * reads), how it credits a sender whose window is smaller than its own, and that a closed one leaves no timer behind.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { jsBase64url } from '../../src/crypto/aead.js';
import { generateIdentity } from '../../src/crypto/identity.js';
import { PeerSession } from '../../src/crypto/session.js';
import {
  DirectLink,
  LAN_RECHECK_MS,
  type LinkEnd,
  type LinkHooks,
  MAX_CHANNEL_MESSAGE,
} from '../../src/direct/link.js';
import type { SelectedPath } from '../../src/direct/selected-path.js';
import type { RtcImplementation, Timers } from '../../src/platform.js';

const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as RtcImplementation & {
  RTCPeerConnection: new (...args: never[]) => { getStats(): Promise<unknown> };
};

/**
 * wrtc whose `getStats` calls from the link's reading of the selected pair (which it makes once the probe passed) are
 * counted, and held until `release` when `hold` is set. simple-peer's own calls (it reads stats before it reports the
 * channel connected) pass untouched.
 */
function statsWatch(hold: boolean) {
  let release = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let calls = 0;
  const Base = wrtc.RTCPeerConnection;
  class Watched extends Base {
    override async getStats(): Promise<unknown> {
      if (!(new Error().stack ?? '').includes('selected-path')) return super.getStats();
      calls += 1;
      if (hold) await held;
      return super.getStats();
    }
  }
  return { rtc: { ...wrtc, RTCPeerConnection: Watched } as RtcImplementation, calls: () => calls, release };
}

/** Real timers, except the one of `upgradeMs` (the upgrade timer), which fires only when the test says so. */
function timersWithUpgrade(upgradeMs: number) {
  let upgrade: { fn: () => void; cleared: boolean } | undefined;
  const timers: Timers = {
    setTimeout: (fn, ms) => {
      if (ms !== upgradeMs) return setTimeout(fn, ms);
      upgrade = { fn, cleared: false };
      return upgrade;
    },
    clearTimeout: (handle) => {
      if (handle === upgrade && upgrade !== undefined) upgrade.cleared = true;
      else clearTimeout(handle as ReturnType<typeof setTimeout>);
    },
  } as Timers;
  return {
    timers,
    /** Runs the upgrade timer as if it ran out now (nothing happens when the link cleared it). */
    runOut: () => {
      if (upgrade !== undefined && !upgrade.cleared) upgrade.fn();
    },
  };
}

function until(what: string, ms: number, check: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() - started > ms) return reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

/** Two sessions of a freshly paired phone (A) and sidecar (B). */
async function pairedSessions(): Promise<[PeerSession, PeerSession]> {
  const [idA, idB] = await Promise.all([generateIdentity(), generateIdentity()]);
  return Promise.all([
    PeerSession.create(idA, idB.publicKey, 'pwa'),
    PeerSession.create(idB, idA.publicKey, 'sidecar'),
  ]);
}

/** Options of one end of an attempt on loopback, no ICE servers. */
function linkOptions(
  initiator: boolean,
  session: PeerSession,
  rtc: RtcImplementation,
  timers: Timers,
  upgradeTimeoutMs = 10_000,
): ConstructorParameters<typeof DirectLink>[0] {
  return {
    initiator,
    attempt: 'attempt-1',
    selfId: session.selfDeviceId,
    peerId: session.peerDeviceId,
    session,
    rtc,
    iceServers: [],
    iceTransportPolicy: 'all',
    timers,
    now: () => Date.now(),
    upgradeTimeoutMs,
    heartbeatMs: 1_000,
    quietMs: 5_000,
    windowBytes: 256 * 1024,
    base64url: jsBase64url,
  };
}

/** One end of an attempt on loopback, no ICE servers. */
function directLink(
  initiator: boolean,
  session: PeerSession,
  rtc: RtcImplementation,
  timers: Timers,
  hooks: LinkHooks,
  upgradeTimeoutMs = 10_000,
): DirectLink {
  return new DirectLink(linkOptions(initiator, session, rtc, timers, upgradeTimeoutMs), hooks);
}

describe('a direct link opening', () => {
  it('opens on its own view when the upgrade timer runs out after the probe passed, while the peer view is late', async () => {
    const [sessionA, sessionB] = await pairedSessions();
    const upgradeMs = 987_654;
    const a = timersWithUpgrade(upgradeMs);
    const statsA = statsWatch(false);
    // B's stats never come back until the end: B never sends its view of the path, so A waits for it.
    const statsB = statsWatch(true);
    const outcome = { a: [] as string[], b: [] as string[] };
    const opened: { a?: SelectedPath; b?: SelectedPath } = {};
    const hooks = (side: 'a' | 'b', other: () => DirectLink | undefined) => ({
      signal: (data: unknown) => other()?.signal(data),
      open: (path: SelectedPath) => {
        outcome[side].push('open');
        opened[side] = path;
      },
      closed: (end: LinkEnd) => outcome[side].push(end),
      envelope: () => {},
      bad: (err: unknown) => outcome[side].push(`bad: ${String(err)}`),
    });
    const linkB = directLink(
      false,
      sessionB,
      statsB.rtc,
      setTimeoutTimers(),
      hooks('b', () => linkA),
      upgradeMs,
    );
    const linkA: DirectLink = directLink(
      true,
      sessionA,
      statsA.rtc,
      a.timers,
      hooks('a', () => linkB),
      upgradeMs,
    );
    try {
      // Each probe passed once its link asks for the selected pair.
      await until('both probes', 15_000, () => statsA.calls() > 0 && statsB.calls() > 0);
      expect(linkA.state).toBe('connecting');
      a.runOut();
      expect(outcome.a).toEqual([]);
      // The peer's view never came: A opens on its own after waiting 1.5 s for it, as `direct` (loopback).
      await until('A open', 5_000, () => outcome.a.length > 0);
      expect(outcome.a).toEqual(['open']);
      expect(opened.a).toMatchObject({ path: 'direct' });
      expect(linkA.state).toBe('open');
      // B's own stats are still out: it opens within the same wait on the view it falls back to, which does not take
      // the path for a local network (low-gain data stays deflated until the stats say so).
      await until('B open', 5_000, () => outcome.b.length > 0);
      expect(outcome.b).toEqual(['open']);
      expect(opened.b).toEqual({ path: 'direct', lan: false });
    } finally {
      statsB.release();
      linkA.close();
      linkB.close();
    }
  });
});

/**
 * wrtc whose stats show every candidate as a host on `192.168.0.2`, or on `203.0.113.5` once `far.on` is set: a pair
 * that leaves the local network while the channel stays open, whatever addresses this machine has.
 */
function movingPair() {
  const far = { on: false };
  const Base = wrtc.RTCPeerConnection;
  class Moving extends Base {
    override async getStats(): Promise<unknown> {
      const report = (await super.getStats()) as { forEach(fn: (s: Record<string, unknown>) => void): void };
      const out = new Map<string, Record<string, unknown>>();
      report.forEach((s) => {
        const candidate = s.type === 'local-candidate' || s.type === 'remote-candidate';
        const address = far.on ? '203.0.113.5' : '192.168.0.2';
        out.set(String(s.id), candidate ? { ...s, candidateType: 'host', address, ip: address } : s);
      });
      return out;
    }
  }
  return { rtc: { ...wrtc, RTCPeerConnection: Moving } as RtcImplementation, far };
}

describe('a direct link within a local network', () => {
  it('says so when it opens, and stops saying so once its pair has left the local network', async () => {
    const { rtc, far } = movingPair();
    const { a: linkA, b: linkB, paths } = openPair(await pairedSessions(), rtc);
    try {
      await until('both open', 15_000, () => paths.length === 2);
      expect(paths).toEqual([
        { path: 'direct', lan: true },
        { path: 'direct', lan: true },
      ]);
      expect(linkA.lanNow()).toBe(true);
      // Read again after LAN_RECHECK_MS while the pair is still local: still true.
      await new Promise((r) => setTimeout(r, LAN_RECHECK_MS + 100));
      expect(linkA.lanNow()).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
      expect(linkA.lanNow()).toBe(true);
      // The pair moves to a public address: the next reading says so, and the link stays open.
      far.on = true;
      await new Promise((r) => setTimeout(r, LAN_RECHECK_MS + 100));
      await until('the pair read as not local', 5_000, () => !linkA.lanNow());
      expect(linkA.state).toBe('open');
      // B was not asked since it opened: this question starts a new reading and gets the last answer.
      expect(linkB.lanNow()).toBe(true);
    } finally {
      linkA.close();
      linkB.close();
    }
    expect(linkA.lanNow()).toBe(false);
  });
});

describe('a direct link closing', () => {
  it('leaves no timer of its own or of simple-peer behind, so a closing process exits at once', async () => {
    const sessions = await pairedSessions();
    const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timeouts();
    const { a, b, paths } = openPair(sessions, wrtc);
    await until('both open', 15_000, () => paths.length === 2);
    a.close();
    b.close();
    // Some of what close() ends goes on a later turn (wrtc reports the channel closing by events), later still on a
    // loaded machine: a timer left running (the link's and simple-peer's shortest run for seconds) is there at 500 ms.
    await until('the links and simple-peer to clear their timers', 500, () => timeouts() <= before);
  });
});

describe('a direct link sending', () => {
  it('sends a receipt ahead of the frames its window holds, so a backlog one way cannot starve the other', async () => {
    const [sessionA, sessionB] = await pairedSessions();
    const { paths, atB, hooks } = pairHooks();
    // A window of 4 KiB: of fifty 1 KiB frames, three go at once and the rest wait for B's credit.
    const b = new DirectLink(
      { ...linkOptions(false, sessionB, wrtc, setTimeoutTimers()), windowBytes: 4 * 1024 },
      hooks(() => a, atB),
    );
    const a: DirectLink = new DirectLink(
      { ...linkOptions(true, sessionA, wrtc, setTimeoutTimers()), windowBytes: 4 * 1024 },
      hooks(() => b),
    );
    try {
      await until('both open', 15_000, () => paths.length === 2);
      const body = 'x'.repeat(1000);
      for (let i = 0; i < 50; i++) expect(a.send({ type: 'chat', id: `c${i}`, payload: body })).toBe(true);
      expect(a.send({ type: 'receipt', id: 'r1', seq: 7, payload: 'sealed' }, true)).toBe(true);
      await until('everything at B', 10_000, () => atB.length === 51);
      // Behind the three frames already on the wire, before the forty-seven the window held.
      expect(atB.indexOf('r1')).toBe(3);
      expect(atB.filter((id) => id !== 'r1')).toEqual(Array.from({ length: 50 }, (_, i) => `c${i}`));
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('a direct link sizing its messages', () => {
  /** wrtc that hears the offer's `a=max-message-size` as `bytes`: the answerer then sends as to a peer reading that. */
  function readsAtMost(bytes: number): RtcImplementation {
    const Base = wrtc.RTCPeerConnection as unknown as new (
      ...args: unknown[]
    ) => { setRemoteDescription(d: { type: string; sdp: string }): Promise<void> };
    class Capped extends Base {
      override setRemoteDescription(d: { type: string; sdp: string }) {
        return super.setRemoteDescription({
          type: d.type,
          sdp: d.sdp.replace(/a=max-message-size:\d+/, `a=max-message-size:${bytes}`),
        });
      }
    }
    return { ...wrtc, RTCPeerConnection: Capped as unknown as RtcImplementation['RTCPeerConnection'] };
  }

  /** Opens a pair (B hears the offer through `rtcB`), sends each envelope from A and B, returns what each took. */
  async function sendBothWays(rtcB: RtcImplementation, sizes: number[]) {
    const [sessionA, sessionB] = await pairedSessions();
    const { paths, atB, hooks } = pairHooks();
    const atA: string[] = [];
    const b: DirectLink = new DirectLink(
      linkOptions(false, sessionB, rtcB, setTimeoutTimers()),
      hooks(() => a, atB),
    );
    const a: DirectLink = new DirectLink(
      linkOptions(true, sessionA, wrtc, setTimeoutTimers()),
      hooks(() => b, atA),
    );
    try {
      await until('both open', 15_000, () => paths.length === 2);
      const taken = (link: DirectLink, end: string) =>
        sizes.filter((bytes) => link.send({ type: 'chat', id: `${end}${bytes}`, payload: 'x'.repeat(bytes) }));
      const took = { a: taken(a, 'a'), b: taken(b, 'b') };
      const count = took.a.length + took.b.length;
      await until('all at the far ends', 10_000, () => atA.length + atB.length === count);
      return { messageBytes: [a.messageBytes, b.messageBytes], took, atA, atB };
    } finally {
      a.close();
      b.close();
    }
  }

  it('sends up to the message size its peer reads, and hands a larger envelope back for the relay', async () => {
    // wrtc reads 256 KiB messages; no link sends more than MAX_CHANNEL_MESSAGE.
    const sizes = [60 * 1024, 70 * 1024, 150 * 1024, MAX_CHANNEL_MESSAGE];
    const open = await sendBothWays(wrtc, sizes);
    expect(open.messageBytes).toEqual([MAX_CHANNEL_MESSAGE, MAX_CHANNEL_MESSAGE]);
    expect(open.took).toEqual({ a: sizes.slice(0, 3), b: sizes.slice(0, 3) });
    expect(open.atB).toEqual(sizes.slice(0, 3).map((n) => `a${n}`));
    // An offer saying 64 KiB: libwebrtc holds both ends of the association to it.
    const capped = await sendBothWays(readsAtMost(64 * 1024), sizes);
    expect(capped.messageBytes).toEqual([64 * 1024, 64 * 1024]);
    expect(capped.took).toEqual({ a: [60 * 1024], b: [60 * 1024] });
    expect([capped.atA, capped.atB]).toEqual([[`b${60 * 1024}`], [`a${60 * 1024}`]]);
  });
});

describe('a direct link crediting', () => {
  it('credits by the smaller of the two windows, so a sender with a small one never waits for a heartbeat', async () => {
    const [sessionA, sessionB] = await pairedSessions();
    const { paths, atB, hooks } = pairHooks();
    // No heartbeat after the probe: credits come from B's counting alone. A's window is 8 KiB, B's 256 KiB (a
    // quarter of it, 64 KiB, is more than A ever has in flight).
    const quiet = { heartbeatMs: 600_000, quietMs: 600_000 };
    const b = new DirectLink(
      { ...linkOptions(false, sessionB, wrtc, setTimeoutTimers()), ...quiet },
      hooks(() => a, atB),
    );
    const a: DirectLink = new DirectLink(
      { ...linkOptions(true, sessionA, wrtc, setTimeoutTimers()), ...quiet, windowBytes: 8 * 1024 },
      hooks(() => b),
    );
    try {
      await until('both open', 15_000, () => paths.length === 2);
      const body = 'x'.repeat(1000);
      for (let i = 0; i < 100; i++) a.send({ type: 'chat', id: `c${i}`, payload: body });
      await until('everything at B', 10_000, () => atB.length === 100);
      expect(atB).toEqual(Array.from({ length: 100 }, (_, i) => `c${i}`));
    } finally {
      a.close();
      b.close();
    }
  });
});

/**
 * Hooks of two links wired to each other: the path each opened on (in the order they opened), the ids of the
 * envelopes one end receives.
 */
function pairHooks() {
  const atB: string[] = [];
  const paths: SelectedPath[] = [];
  const hooks = (other: () => DirectLink | undefined, received?: string[]): LinkHooks => ({
    signal: (data) => other()?.signal(data),
    open: (path) => paths.push(path),
    closed: () => {},
    envelope: (e) => received?.push(e.id),
    bad: () => {},
  });
  return { atB, paths, hooks };
}

/** The two links of an attempt between `sessions` on real timers (B answers), wired to each other by pairHooks. */
function openPair([sessionA, sessionB]: [PeerSession, PeerSession], rtc: RtcImplementation) {
  const { paths, hooks } = pairHooks();
  const b: DirectLink = directLink(
    false,
    sessionB,
    rtc,
    setTimeoutTimers(),
    hooks(() => a),
  );
  const a: DirectLink = directLink(
    true,
    sessionA,
    rtc,
    setTimeoutTimers(),
    hooks(() => b),
  );
  return { a, b, paths };
}

function setTimeoutTimers(): Timers {
  return {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  } as Timers;
}
