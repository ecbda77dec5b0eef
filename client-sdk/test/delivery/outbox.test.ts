import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Outbox, type OutboxEntry, WRITES_IN_FLIGHT } from '../../src/delivery/outbox.js';
import { encodeEntry, encodeEntryBytes, parseEntry, parseEntryBytes } from '../../src/delivery/outbox-codec.js';
import { MemoryStore } from '../../src/platform.js';
import { BadKeyStore, FlakyStore, HeldStore, pause, rejectsWith, textOnlyStore, until } from './helpers.js';

const entry = (box: Outbox, peer: string, bytes = 10): OutboxEntry => {
  const seq = box.nextSeq(peer);
  return { peer, id: `${peer}-${seq}`, type: 'chat', seq, payload: 'x'.repeat(bytes), createdAt: 1000 + seq, bytes };
};

describe('Outbox', () => {
  it('allocates seqs per peer from 0 and lists pending entries in seq order', async () => {
    const box = await Outbox.open(new MemoryStore());
    const a0 = entry(box, 'a');
    const a1 = entry(box, 'a');
    const b0 = entry(box, 'b');
    expect([a0.seq, a1.seq, b0.seq]).toEqual([0, 1, 0]);
    await box.add(a1);
    await box.add(a0);
    await box.add(b0);
    expect(box.pending('a').map((e) => e.seq)).toEqual([0, 1]);
    expect(box.pending().map((e) => `${e.peer}${e.seq}`)).toEqual(['a0', 'a1', 'b0']);
    expect(box.size).toEqual({ entries: 3, bytes: 30 });
  });

  it('acknowledges every entry up to a seq, returns them, and is idempotent', async () => {
    const box = await Outbox.open(new MemoryStore());
    for (let i = 0; i < 5; i++) await box.add(entry(box, 'p'));
    const done = await box.acknowledge('p', 2);
    expect(done.map((e) => e.seq)).toEqual([0, 1, 2]);
    expect(box.pending('p').map((e) => e.seq)).toEqual([3, 4]);
    expect(await box.acknowledge('p', 2)).toEqual([]);
    expect(await box.acknowledge('p', -1)).toEqual([]);
    expect(box.size).toEqual({ entries: 2, bytes: 20 });
  });

  it('empties a peer on an acknowledgement past everything sent (giving up on a revoked peer)', async () => {
    const box = await Outbox.open(new MemoryStore());
    await box.add(entry(box, 'p'));
    await box.add(entry(box, 'q'));
    expect(await box.acknowledge('p', Number.MAX_SAFE_INTEGER)).toHaveLength(1);
    expect(box.pending().map((e) => e.peer)).toEqual(['q']);
  });

  it('replaces a queued entry in place, persisted, and refuses an unknown seq', async () => {
    const store = new MemoryStore();
    const box = await Outbox.open(store, { maxBytes: 30 });
    const e = entry(box, 'p');
    await box.add(e);
    await box.replace({ ...e, id: 'void', payload: 'v', bytes: 1 });
    expect(box.size).toEqual({ entries: 1, bytes: 1 });
    expect((await Outbox.open(store)).pending('p')).toMatchObject([{ seq: 0, id: 'void', bytes: 1 }]);
    await rejectsWith(box.replace({ ...e, bytes: 31 }), 'OPPIE_ERR_OUTBOX_FULL');
    await expect(box.replace({ ...e, seq: 5 })).rejects.toThrow(RangeError);
  });

  it('bounds entries and bytes with OPPIE_ERR_OUTBOX_FULL and gives the failed seq back', async () => {
    const box = await Outbox.open(new MemoryStore(), { maxEntries: 2, maxBytes: 25 });
    await box.add(entry(box, 'p'));
    const big = entry(box, 'p', 16);
    const err = await rejectsWith(box.add(big), 'OPPIE_ERR_OUTBOX_FULL');
    expect(err.message).toMatch(/26\/25 bytes/);
    expect(box.nextSeq('p')).toBe(1); // the refused seq 1 is reused: no gap for the receiver to wait on
    await box.add({ ...big, bytes: 10, payload: 'y' });
    await rejectsWith(box.add(entry(box, 'q')), 'OPPIE_ERR_OUTBOX_FULL');
    await box.acknowledge('p', 0);
    await box.add(entry(box, 'q'));
    expect(box.size).toEqual({ entries: 2, bytes: 20 });
  });

  it('on a store of text, persists the text spelled for a payload of bytes, and refuses bytes without it', async () => {
    const store = textOnlyStore();
    const box = await Outbox.open(store);
    const bytes = new Uint8Array([1, 2, 3]);
    const e = { ...entry(box, 'p', 4), payload: bytes };
    await expect(box.add(e)).rejects.toThrow(RangeError);
    expect(box.size).toEqual({ entries: 0, bytes: 0 });
    await box.add(e, () => 'AQID');
    expect(box.entry('p', 0)?.payload).toBe(bytes);
    expect((await Outbox.open(store)).entry('p', 0)).toEqual({ ...e, payload: 'AQID' });
    await expect(box.replace({ ...e, id: 'void' })).rejects.toThrow(RangeError);
    await box.replace({ ...e, id: 'void' }, () => 'AQIE');
    expect(box.entry('p', 0)).toMatchObject({ id: 'void', payload: bytes });
    expect((await Outbox.open(store)).entry('p', 0)).toMatchObject({ id: 'void', payload: 'AQIE' });
  });

  it('on a store that takes bytes, persists a payload of bytes as they are and never spells them', async () => {
    const store = new MemoryStore();
    const box = await Outbox.open(store);
    const wide = new Uint8Array(8).fill(9);
    const bytes = wide.subarray(4, 7); // a view, as a sealed frame after its free room is
    bytes.set([0, 10, 255]); // a newline among them: only the first one ends the metadata
    const never = () => expect.unreachable('spelled');
    const e = { ...entry(box, 'p', 4), payload: bytes };
    await box.add(e, never);
    expect(box.entry('p', 0)?.payload).toBe(bytes);
    const again = await Outbox.open(store);
    expect(again.corrupt).toBe(0);
    expect(again.entry('p', 0)).toEqual({ ...e, payload: new Uint8Array([0, 10, 255]) });
    // A void frame's text replaces them; a frame of text beside them stays text.
    await box.replace({ ...e, id: 'void', payload: 'AQIE' });
    await box.add(entry(box, 'p'));
    const third = await Outbox.open(store);
    expect(third.pending('p').map((x) => x.payload)).toEqual(['AQIE', 'x'.repeat(10)]);
    expect(third.size).toEqual(box.size);
  });

  it('writes the records of frames kept as bytes into one array it reuses (a store keeps a copy)', async () => {
    const arrays = new Set<ArrayBufferLike>();
    class Watching extends MemoryStore {
      override async setBytes(key: string, value: Uint8Array) {
        arrays.add(value.buffer);
        return super.setBytes(key, value);
      }
    }
    const store = new Watching();
    const box = await Outbox.open(store);
    const frames = Array.from({ length: 5 }, (_, i) => new Uint8Array(9000 + i).fill(i));
    for (const payload of frames) await box.add({ ...entry(box, 'p', 4), payload });
    expect(arrays.size).toBe(1);
    const again = await Outbox.open(store);
    expect(again.pending('p').map((e) => e.payload)).toEqual(frames);
  });

  it('reads entries of either layout as bytes, and counts a damaged record of bytes as corrupt', async () => {
    const store = new MemoryStore();
    const box = await Outbox.open(store);
    const text = entry(box, 'p');
    await box.add(text);
    const raw = { ...entry(box, 'p', 4), payload: new Uint8Array([1, 2, 3]) };
    await box.add(raw);
    for (let i = 0; i < 3; i++) await box.add({ ...entry(box, 'p', 4), payload: new Uint8Array([7]) });
    expect(parseEntryBytes(encodeEntryBytes(raw), 'p', 1)).toEqual(raw);
    expect(parseEntryBytes(new TextEncoder().encode(encodeEntry(text)), 'p', 0)).toEqual(text);
    const keys = (await store.keys('outbox/e/')).sort();
    await store.setBytes(keys[2]!, new TextEncoder().encode('{"raw":1,"peer":"p"}\nAQ')); // fields missing
    await store.setBytes(keys[3]!, new TextEncoder().encode('{not json\nAQ'));
    await store.setBytes(
      keys[4]!,
      new TextEncoder().encode(`${encodeEntry(text).split('\n')[0]}`.replace('}', ',"raw":2}')),
    );
    const again = await Outbox.open(store);
    expect(again.corrupt).toBe(3);
    expect(again.pending('p')).toEqual([text, raw]);
    expect(again.nextSeq('p')).toBe(5);
  });

  it('refuses a second entry with the same seq and invalid sizes', async () => {
    const box = await Outbox.open(new MemoryStore());
    const e = entry(box, 'p');
    await box.add(e);
    await expect(box.add(e)).rejects.toThrow(RangeError);
    await expect(box.add({ ...entry(box, 'p'), bytes: -1 })).rejects.toThrow(RangeError);
  });

  it('survives a re-open on the same store: entries, sizes and counters', async () => {
    const store = new MemoryStore();
    const box = await Outbox.open(store);
    for (let i = 0; i < 4; i++) await box.add(entry(box, 'dev/1')); // a "/" in a peer id must not split keys
    await box.add(entry(box, 'q'));
    await box.acknowledge('dev/1', 1);
    const again = await Outbox.open(store);
    expect(again.corrupt).toBe(0);
    expect(again.pending('dev/1')).toEqual(box.pending('dev/1'));
    expect(again.size).toEqual(box.size);
    expect(again.nextSeq('dev/1')).toBe(4);
    expect(again.nextSeq('q')).toBe(1);
  });

  it('never reuses an acknowledged seq after a restart, even with an empty outbox', async () => {
    const store = new MemoryStore();
    const box = await Outbox.open(store);
    for (let i = 0; i < 3; i++) await box.add(entry(box, 'p'));
    await box.acknowledge('p', 2);
    expect(box.size.entries).toBe(0);
    expect((await Outbox.open(store)).nextSeq('p')).toBe(3);
  });

  it('writes the counter only when giving up past the highest seq added, and never reuses a seq', async () => {
    class CountingStore extends MemoryStore {
      counterWrites = 0;
      override async set(key: string, value: string) {
        if (key.startsWith('outbox/n/')) this.counterWrites++;
        return super.set(key, value);
      }
    }
    const store = new CountingStore();
    const box = await Outbox.open(store);
    for (let i = 0; i < 5; i++) await box.add(entry(box, 'p'));
    // A receipt in a stream: seq 4 stays, and its key is what a restart counts from.
    await box.acknowledge('p', 2);
    expect(store.counterWrites).toBe(0);
    expect((await Outbox.open(store)).nextSeq('p')).toBe(5);
    // A receipt that settles the newest frame keeps its record instead; a restart sends it once more.
    await box.acknowledge('p', 4);
    expect(store.counterWrites).toBe(0);
    expect(box.size.entries).toBe(0);
    const reopened = await Outbox.open(store);
    expect(reopened.pending('p').map((e) => e.seq)).toEqual([4]);
    expect(reopened.nextSeq('p')).toBe(5);
    // The next acknowledgment deletes the kept record: the newer one proves its seq.
    await box.add(entry(box, 'p'));
    await box.acknowledge('p', 5);
    expect(store.counterWrites).toBe(0);
    expect(await store.keys('outbox/e/')).toEqual(['outbox/e/p/0000000000000005']);
    expect((await Outbox.open(store)).nextSeq('p')).toBe(6);
    // Giving up on the peer past everything: the counter goes first, then every record, the kept one too.
    expect(await box.acknowledge('p', Number.MAX_SAFE_INTEGER)).toEqual([]);
    expect(store.counterWrites).toBe(1);
    expect(await store.keys('outbox/e/')).toEqual([]);
    expect((await Outbox.open(store)).nextSeq('p')).toBe(6);
  });

  it('tidies for a clean close: the counter takes the place of a kept record, which a restart then never sends', async () => {
    const store = new FlakyStore();
    const box = await Outbox.open(store);
    await box.add(entry(box, 'p'));
    await box.add(entry(box, 'p'));
    await box.acknowledge('p', 1);
    await box.add(entry(box, 'q'));
    await box.acknowledge('q', 0);
    await box.add(entry(box, 'q')); // q's kept seq 0 is proven by seq 1's record: no counter needed
    store.failWrites = true;
    await rejectsWith(box.tidy(), 'OPPIE_ERR_STORAGE');
    // Nothing lost by the failure: the kept records are still there to count from (and go again after a restart).
    const failed = await Outbox.open(store);
    expect(failed.pending().map((e) => `${e.peer}${e.seq}`)).toEqual(['p1', 'q0', 'q1']);
    store.failWrites = false;
    await box.tidy();
    expect(await store.keys('outbox/n/')).toEqual(['outbox/n/p']);
    const again = await Outbox.open(store);
    expect(again.pending().map((e) => `${e.peer}${e.seq}`)).toEqual(['q1']);
    expect([again.nextSeq('p'), again.nextSeq('q')]).toEqual([2, 2]);
    await box.tidy(); // nothing left to tidy
    expect((await Outbox.open(store)).pending().map((e) => `${e.peer}${e.seq}`)).toEqual(['q1']);
  });

  it('deletes what a receipt settles in seq order, stopping at the first failure, and tries again from there', async () => {
    const store = new BadKeyStore();
    const box = await Outbox.open(store);
    for (let i = 0; i < 4; i++) await box.add(entry(box, 'p'));
    store.bad = (await store.keys('outbox/e/')).sort()[1] ?? '';
    await rejectsWith(box.acknowledge('p', 3), 'OPPIE_ERR_STORAGE');
    // The receipt settles them all; seq 0's record went, seq 1's failed, and seq 2's was not tried (no gap below 3).
    expect(box.size).toEqual({ entries: 0, bytes: 0 });
    expect((await store.keys('outbox/e/')).length).toBe(3);
    expect((await Outbox.open(store)).pending('p').map((e) => e.seq)).toEqual([1, 2, 3]);
    store.bad = '';
    await box.add(entry(box, 'p'));
    expect((await box.acknowledge('p', 4)).map((e) => e.seq)).toEqual([4]);
    // Seqs 1-3 went with this receipt; seq 4's record stays as the record of the seqs used.
    expect((await store.keys('outbox/e/')).length).toBe(1);
    expect((await Outbox.open(store)).nextSeq('p')).toBe(5);
  });

  it('skips and counts corrupt records without losing the others or their seqs', async () => {
    const store = new MemoryStore();
    const box = await Outbox.open(store);
    for (let i = 0; i < 3; i++) await box.add(entry(box, 'p'));
    const keys = (await store.keys('outbox/')).sort();
    await store.set(keys[2]!, '{not json');
    await store.set(keys[1]!, JSON.stringify({ peer: 'other', seq: 1 }));
    await store.set('outbox/zz/whatever', '1');
    await store.set('outbox/n/p', 'NaN');
    const again = await Outbox.open(store);
    expect(again.corrupt).toBe(4);
    expect(again.pending('p').map((e) => e.seq)).toEqual([0]);
    expect(again.nextSeq('p')).toBe(3); // the corrupt keys still prove seqs 1 and 2 were used
  });

  it('turns storage failures into OPPIE_ERR_STORAGE and keeps its state', async () => {
    const store = new FlakyStore();
    const box = await Outbox.open(store);
    await box.add(entry(box, 'p'));
    await box.add(entry(box, 'p'));
    store.failWrites = true;
    await rejectsWith(box.add(entry(box, 'p')), 'OPPIE_ERR_STORAGE');
    // The receipt settles seq 0 (the peer has it) though its record stays: the next acknowledgment tries it again.
    await rejectsWith(box.acknowledge('p', 0), 'OPPIE_ERR_STORAGE');
    await rejectsWith(box.acknowledge('p', Number.MAX_SAFE_INTEGER), 'OPPIE_ERR_STORAGE'); // the counter's write
    expect(box.pending('p').map((e) => e.seq)).toEqual([1]);
    expect((await store.keys('outbox/e/')).length).toBe(2);
    expect(box.nextSeq('p')).toBe(2);
  });

  it('validates options', async () => {
    await expect(Outbox.open(new MemoryStore(), { maxEntries: 0 })).rejects.toThrow(/maxEntries/);
    await expect(Outbox.open(new MemoryStore(), { maxBytes: 1.5 })).rejects.toThrow(/maxBytes/);
  });

  it('acknowledges in seq order whatever order the entries were added in', async () => {
    const box = await Outbox.open(new MemoryStore());
    const es = Array.from({ length: 6 }, () => entry(box, 'p'));
    for (const i of [3, 0, 5, 1, 4, 2]) await box.add(es[i] as OutboxEntry);
    expect((await box.acknowledge('p', 3)).map((e) => e.seq)).toEqual([0, 1, 2, 3]);
    expect(box.pending('p').map((e) => e.seq)).toEqual([4, 5]);
  });

  it('lets an add land while a receipt waits on its deletes, and a receipt while an add waits on its write', async () => {
    const store = new HeldStore();
    const box = await Outbox.open(store);
    for (let i = 0; i < 3; i++) await box.add(entry(box, 'p'));
    store.held = 'delete';
    const acked = box.acknowledge('p', 1);
    await until(() => store.waiting.length === 1); // deletes go one at a time, in seq order
    await box.add(entry(box, 'p')); // its write is not held: it must not queue behind the deletes
    expect(box.pending('p').map((e) => e.seq)).toEqual([2, 3]); // the receipt settled seqs 0 and 1 at once
    store.resume();
    expect((await acked).map((e) => e.seq)).toEqual([0, 1]);

    store.held = 'write';
    const added = box.add(entry(box, 'p'));
    await until(() => store.waiting.length === 1);
    expect((await box.acknowledge('p', 3)).map((e) => e.seq)).toEqual([2, 3]);
    store.resume();
    await added;
    expect(box.pending('p').map((e) => e.seq)).toEqual([4]);
    // Seq 3 was the newest frame when its receipt came: its record stays until the next acknowledgment.
    expect((await Outbox.open(store)).pending('p').map((e) => e.seq)).toEqual([3, 4]);
  });

  it('gives up on a peer only after its adds under way: nothing given up on stays queued', async () => {
    const store = new HeldStore();
    const box = await Outbox.open(store);
    await box.add(entry(box, 'p'));
    store.held = 'write';
    const added = box.add(entry(box, 'p'));
    await until(() => store.waiting.length === 1);
    const gaveUp = box.acknowledge('p', Number.MAX_SAFE_INTEGER);
    store.resume();
    await added;
    expect((await gaveUp).map((e) => e.seq)).toEqual([0, 1]);
    expect(box.size).toEqual({ entries: 0, bytes: 0 });
    expect(await store.keys('outbox/e/')).toEqual([]);
  });

  it('gives a replacement beside an add under way an array of its own (a store may read it later)', async () => {
    // Reads the bytes only when the write goes on, as FileStore does; the first held write is the add's.
    class LateReader extends MemoryStore {
      hold = false;
      waiting: Array<() => void> = [];
      override async setBytes(key: string, value: Uint8Array) {
        if (this.hold) {
          this.hold = false;
          await new Promise<void>((go) => this.waiting.push(go));
        }
        return super.setBytes(key, value);
      }
    }
    const store = new LateReader();
    const box = await Outbox.open(store);
    const filled = (fill: number) => new Uint8Array(300).fill(fill);
    const first: OutboxEntry = { ...entry(box, 'p'), payload: filled(1) };
    await box.add(first);
    store.hold = true;
    const added = box.add({ ...entry(box, 'p'), payload: filled(2) });
    await until(() => store.waiting.length === 1);
    await box.replace({ ...first, id: 'void-0', payload: filled(3) });
    for (const go of store.waiting.splice(0)) go();
    await added;
    const again = await Outbox.open(store);
    expect(again.pending('p').map((e) => [e.id, (e.payload as Uint8Array)[0]])).toEqual([
      ['void-0', 3],
      ['p-1', 2],
    ]);
  });

  it('tries a stale record whose delete failed again at the next acknowledgment, and at tidy', async () => {
    const store = new BadKeyStore();
    const box = await Outbox.open(store);
    await box.add(entry(box, 'p'));
    await box.acknowledge('p', 0); // seq 0's record stays as the record of the seqs used
    await box.add(entry(box, 'p'));
    store.bad = 'outbox/e/p/0000000000000000';
    await rejectsWith(box.acknowledge('p', 1), 'OPPIE_ERR_STORAGE');
    expect(box.size.entries).toBe(0);
    expect((await store.keys('outbox/e/')).sort()).toEqual([
      'outbox/e/p/0000000000000000',
      'outbox/e/p/0000000000000001',
    ]);
    await box.add(entry(box, 'p'));
    await rejectsWith(box.acknowledge('p', 2), 'OPPIE_ERR_STORAGE'); // still failing: still tracked
    store.bad = '';
    await box.tidy();
    expect(await store.keys('outbox/e/')).toEqual([]);
    expect((await Outbox.open(store)).nextSeq('p')).toBe(3);
  });

  it('tries one delete a receipt while deletes keep failing (bounded work), and keeps one range of records', async () => {
    class NoDeletes extends MemoryStore {
      deletes = 0;
      override async delete(_key: string) {
        this.deletes += 1;
        throw new Error('EIO');
      }
    }
    const store = new NoDeletes();
    const box = await Outbox.open(store);
    for (let i = 0; i < 200; i++) {
      const e = entry(box, 'p');
      await box.add(e);
      await box.acknowledge('p', e.seq).catch(() => {});
    }
    store.deletes = 0;
    await box.add(entry(box, 'p'));
    await rejectsWith(box.acknowledge('p', 200), 'OPPIE_ERR_STORAGE');
    expect(store.deletes).toBe(1); // the lowest: nothing above it may go before it does
    expect(box.size.entries).toBe(0);
    expect((await store.keys('outbox/e/')).length).toBe(201);
  });

  it('waits for the adds an acknowledgment covers, not for later ones', async () => {
    const store = new HeldStore();
    const box = await Outbox.open(store);
    store.held = 'write';
    const first = box.add(entry(box, 'p'));
    await until(() => store.waiting.length === 1);
    const acked = box.acknowledge('p', 0); // a receipt ahead of its frame's write (a peer's own seq bookkeeping)
    const goFirst = store.waiting.splice(0);
    const second = box.add(entry(box, 'p'));
    for (const go of goFirst) go();
    await first;
    await until(() => store.waiting.length === 1); // seq 1's write is held now
    expect((await acked).map((e) => e.seq)).toEqual([0]);
    store.resume();
    await second;
    expect(box.pending('p').map((e) => e.seq)).toEqual([1]);
  });

  it('overlaps the writes of adds, and queues each once it and every add before it are stored', async () => {
    const store = new HeldStore();
    const box = await Outbox.open(store);
    await box.add(entry(box, 'p')); // seq 0: a stored record below the writes that overlap
    store.held = 'write';
    const order: number[] = [];
    const adds = [1, 2, 3].map(() => {
      const e = entry(box, 'p');
      return box.add(e).then(() => order.push(e.seq));
    });
    await until(() => store.waiting.length === 3); // all three writes under way at once
    const [first, ...later] = store.waiting.splice(0);
    for (const go of later) go();
    await pause(5);
    expect(order).toEqual([]); // stored, but seq 1 is not: nothing after it may go
    expect(box.pending('p').map((e) => e.seq)).toEqual([0]);
    expect(box.size).toEqual({ entries: 1, bytes: 10 });
    first?.();
    await Promise.all(adds);
    expect(order).toEqual([1, 2, 3]);
    expect(box.pending('p').map((e) => e.seq)).toEqual([0, 1, 2, 3]);
  });

  it('writes the first frame of a peer with no record stored alone: the adds behind it wait for it', async () => {
    const store = new HeldStore();
    const box = await Outbox.open(store);
    store.held = 'write';
    const adds = [0, 1, 2].map(() => box.add(entry(box, 'p')));
    await until(() => store.waiting.length === 1);
    await pause(5);
    expect(store.waiting.length).toBe(1); // a crash now leaves no record above a missing seq 0
    store.waiting.shift()?.();
    await until(() => store.waiting.length === 2); // seq 0 is stored: the other two go together
    store.resume();
    await Promise.all(adds);
    // The same once a peer's records are all gone (given up on: the counter stands for them, no record).
    await box.acknowledge('p', Number.MAX_SAFE_INTEGER);
    store.held = 'write';
    const again = [3, 4].map(() => box.add(entry(box, 'p')));
    await until(() => store.waiting.length === 1);
    await pause(5);
    expect(store.waiting.length).toBe(1);
    store.resume();
    await Promise.all(again);
    expect(box.pending('p').map((e) => e.seq)).toEqual([3, 4]);
  });

  it(`has at most WRITES_IN_FLIGHT (${WRITES_IN_FLIGHT}) writes under way, the rest starting in call order`, async () => {
    const store = new HeldStore();
    const box = await Outbox.open(store);
    await box.add(entry(box, 'p'));
    store.held = 'write';
    const adds = Array.from({ length: WRITES_IN_FLIGHT + 4 }, () => box.add(entry(box, 'p')));
    await until(() => store.waiting.length === WRITES_IN_FLIGHT);
    await pause(5);
    expect(store.waiting.length).toBe(WRITES_IN_FLIGHT);
    store.waiting.shift()?.();
    await until(() => store.waiting.length === WRITES_IN_FLIGHT); // one done: the next one starts
    store.resume();
    await Promise.all(adds);
    expect(box.pending('p').map((e) => e.seq)).toEqual(Array.from({ length: WRITES_IN_FLIGHT + 5 }, (_, i) => i));
  });

  it('counts adds under way against the bounds', async () => {
    const store = new HeldStore();
    const box = await Outbox.open(store, { maxEntries: 2 });
    store.held = 'write';
    const adds = [box.add(entry(box, 'p')), box.add(entry(box, 'p'))];
    await rejectsWith(box.add(entry(box, 'p')), 'OPPIE_ERR_OUTBOX_FULL');
    expect(box.nextSeq('p')).toBe(2); // the refused seq was given back
    store.resume();
    await Promise.all(adds);
  });

  it('fails an add whose write fails and every later add of the peer, deletes their records, and gives the seqs back', async () => {
    class FailsOne extends HeldStore {
      failing = '';
      override async setBytes(key: string, value: Uint8Array) {
        await super.setBytes(key, value); // the record lands, as a write that fails at its directory sync leaves it
        if (key === this.failing) throw new Error('EIO');
      }
      override async set(key: string, value: string) {
        await super.set(key, value);
        if (key === this.failing) throw new Error('EIO');
      }
    }
    const store = new FailsOne();
    const box = await Outbox.open(store);
    await box.add(entry(box, 'other'));
    store.failing = 'outbox/e/q/0000000000000001';
    store.held = 'write';
    const adds = [0, 1, 2, 3].map(() => box.add(entry(box, 'q')));
    const other = box.add(entry(box, 'other'));
    const results = Promise.allSettled(adds);
    await until(() => store.waiting.length === 2); // q's first frame goes alone (nothing of q stored yet)
    store.waiting.shift()?.();
    await until(() => store.waiting.length === 4); // seq 0 stored: seqs 1-3 go together
    store.held = 'delete'; // the undo's deletes wait: meanwhile a new add of the peer fails at once
    for (const go of store.waiting.splice(0)) go();
    await until(() => store.waiting.length === 1); // seq 1 first: the records of seqs 1-3 landed
    const during = entry(box, 'q');
    const refused = await rejectsWith(box.add(during), 'OPPIE_ERR_STORAGE');
    expect(String((refused.cause as Error).cause)).toContain('EIO');
    store.resume();
    const [r0, ...failed] = await results;
    expect(r0?.status).toBe('fulfilled');
    for (const r of failed) {
      expect(r.status).toBe('rejected');
      expect(((r as PromiseRejectedResult).reason as { code: string }).code).toBe('OPPIE_ERR_STORAGE');
    }
    await other; // another peer's frames are not held up
    expect(box.pending('q').map((e) => e.seq)).toEqual([0]);
    expect(box.size.entries).toBe(3);
    expect(await store.keys('outbox/e/q/')).toEqual(['outbox/e/q/0000000000000000']);
    expect(box.nextSeq('q')).toBe(1); // nothing after seq 0 went: its seq comes again
  });

  it('drops the records above a seq whose write never finished (a crash), and uses their seqs again', async () => {
    const store = new MemoryStore();
    const box = await Outbox.open(store);
    for (let i = 0; i < 5; i++) await box.add(entry(box, 'p'));
    await box.add(entry(box, 'other'));
    await store.delete('outbox/e/p/0000000000000002'); // its write had not landed when the others had
    const again = await Outbox.open(store);
    expect(again.unfinished).toBe(2);
    expect(again.pending('p').map((e) => e.seq)).toEqual([0, 1]);
    expect(again.pending('other').map((e) => e.seq)).toEqual([0]);
    expect((await store.keys('outbox/e/p/')).length).toBe(2);
    expect(again.nextSeq('p')).toBe(2);
  });

  it('keeps the records above a missing seq when an outbox that deleted out of order wrote them', async () => {
    const store = new MemoryStore();
    for (const seq of [0, 2, 3]) {
      const older = encodeEntry({ peer: 'p', id: `p-${seq}`, type: 'chat', seq, payload: 'x', createdAt: 1, bytes: 1 });
      await store.set(`outbox/e/p/${String(seq).padStart(16, '0')}`, older.replace(',"o":1}', '}'));
    }
    const box = await Outbox.open(store);
    expect(box.unfinished).toBe(0);
    expect(box.pending('p').map((e) => e.seq)).toEqual([0, 2, 3]); // seq 1 was acknowledged: the peer has it
    expect(box.nextSeq('p')).toBe(4);
  });

  it('keeps the records above a missing seq when the record below it is unreadable (acknowledged ones were deleted)', async () => {
    const store = new MemoryStore();
    const box = await Outbox.open(store);
    for (let i = 0; i < 6; i++) await box.add(entry(box, 'p'));
    await box.acknowledge('p', 1);
    await store.set('outbox/e/p/0000000000000002', '{torn'); // never queued again, so never deleted
    const reopened = await Outbox.open(store);
    expect(reopened.corrupt).toBe(1);
    await reopened.acknowledge('p', 5); // deletes 3 and 4, keeps 5
    const again = await Outbox.open(store);
    expect(again.unfinished).toBe(0);
    expect(again.pending('p').map((e) => e.seq)).toEqual([5]);
    expect(again.nextSeq('p')).toBe(6); // never a seq the peer has
  });

  it('keeps the newest record when giving up while later adds are under way (their writes overlap)', async () => {
    const store = new HeldStore();
    const box = await Outbox.open(store);
    await box.add(entry(box, 'p'));
    store.held = 'write';
    const covered = box.add(entry(box, 'p'));
    await until(() => store.waiting.length === 1);
    const gaveUp = box.acknowledge('p', Number.MAX_SAFE_INTEGER);
    await pause(1); // it waits for seq 1, which it covers
    const later = box.add(entry(box, 'p'));
    await until(() => store.waiting.length === 2);
    store.waiting.shift()?.(); // seq 1's write: the give-up goes on while seq 2's is held
    await covered;
    expect((await gaveUp).map((e) => e.seq)).toEqual([0, 1]);
    expect(await store.keys('outbox/e/')).toEqual(['outbox/e/p/0000000000000001']);
    store.resume();
    await later;
    expect(box.pending('p').map((e) => e.seq)).toEqual([2]);
  });

  it('fails to open with OPPIE_ERR_STORAGE when a record above an unfinished write cannot be deleted', async () => {
    const store = new FlakyStore();
    const box = await Outbox.open(store);
    for (let i = 0; i < 3; i++) await box.add(entry(box, 'p'));
    await store.delete('outbox/e/p/0000000000000001');
    store.failWrites = true;
    await rejectsWith(Outbox.open(store), 'OPPIE_ERR_STORAGE');
    store.failWrites = false;
    expect((await Outbox.open(store)).pending('p').map((e) => e.seq)).toEqual([0]);
  });

  it('deletes the records of receipts that come while a delete runs in one call after it (a store that deletes in order)', async () => {
    class InOrder extends HeldStore {
      calls: string[][] = [];
      async deleteInOrder(keys: readonly string[]) {
        this.calls.push(keys.map((k) => k.slice(-1)));
        for (const key of keys) await this.delete(key);
        return { deleted: keys.length };
      }
    }
    const store = new InOrder();
    const box = await Outbox.open(store);
    for (let i = 0; i < 5; i++) await box.add(entry(box, 'p'));
    store.held = 'delete';
    const first = box.acknowledge('p', 0);
    await until(() => store.waiting.length === 1);
    const later = [box.acknowledge('p', 1), box.acknowledge('p', 2), box.acknowledge('p', 3)];
    await pause(5);
    expect(box.pending('p').map((e) => e.seq)).toEqual([4]); // the receipts settled; their deletes wait
    store.resume();
    expect((await first).map((e) => e.seq)).toEqual([0]);
    expect((await Promise.all(later)).map((done) => done.map((e) => e.seq))).toEqual([[1], [2], [3]]);
    expect(store.calls).toEqual([['0'], ['1', '2', '3']]);
    expect((await store.keys('outbox/e/')).length).toBe(1);
  });

  it('settles once the adds and the acknowledgments beside them have', async () => {
    const store = new HeldStore();
    const box = await Outbox.open(store);
    await box.add(entry(box, 'p'));
    await box.add(entry(box, 'p'));
    store.held = 'delete';
    void box.acknowledge('p', 0);
    await until(() => store.waiting.length === 1);
    let settled = false;
    const settling = box.settled().then(() => {
      settled = true;
    });
    await box.add(entry(box, 'p'));
    await pause(10);
    expect(settled).toBe(false);
    store.resume();
    await settling;
    expect(box.pending('p').map((e) => e.seq)).toEqual([1, 2]);
  });
});

describe('outbox entry encoding', () => {
  const entries = fc.record(
    {
      peer: fc.string(),
      id: fc.string(),
      type: fc.string(),
      seq: fc.nat(),
      payload: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]*$/), fc.string(), fc.string({ unit: 'binary' })),
      priority: fc.constantFrom('high' as const, 'normal' as const, 'low' as const),
      ttl: fc.nat(),
      createdAt: fc.nat(),
      bytes: fc.nat(),
    },
    { requiredKeys: ['peer', 'id', 'type', 'seq', 'payload', 'createdAt', 'bytes'] },
  );

  it('reads back as the same entry, with any payload (property)', () => {
    fc.assert(
      fc.property(entries, (e) => {
        expect(parseEntry(encodeEntry(e), e.peer, e.seq)).toEqual(e);
      }),
      { numRuns: 500 },
    );
  });

  it('keeps the payload out of the JSON, and still reads entries stored as plain JSON', () => {
    const e = { peer: 'p', id: 'i', type: 'chat', seq: 1, payload: 'ab-_9Z\n{"x":1}', createdAt: 2, bytes: 6 };
    expect(encodeEntry(e)).toBe(
      '{"peer":"p","id":"i","type":"chat","seq":1,"createdAt":2,"bytes":6,"o":1}\nab-_9Z\n{"x":1}',
    );
    expect(parseEntry(JSON.stringify(e), 'p', 1)).toEqual(e);
    expect(parseEntry(`${JSON.stringify(e)}\nab`, 'p', 1)).toBeUndefined();
    expect(parseEntry('[1]\nab', 'p', 1)).toBeUndefined();
  });
});
