import { describe, expect, it } from 'vitest';
import { Inbox } from '../../src/delivery/inbox.js';
import { MemoryStore } from '../../src/platform.js';
import { FlakyStore, rejectsWith } from './helpers.js';

const seqs = (r: Awaited<ReturnType<Inbox<string>['accept']>>) =>
  r.kind === 'deliver' ? r.frames.map((f) => f.seq) : r.kind;

/** Accepts like a client: a delivered batch is handed over, then reported delivered. */
async function take<T>(inbox: Inbox<T>, peer: string, seq: number, id: string, value: T) {
  const r = await inbox.accept(peer, seq, id, value);
  if (r.kind === 'deliver') await inbox.delivered(peer, r.frames[r.frames.length - 1]?.seq ?? seq);
  return r;
}

describe('Inbox', () => {
  it('delivers in order and acknowledges the highest contiguous seq', async () => {
    const inbox = await Inbox.open<string>(new MemoryStore());
    expect(inbox.ackState('p')).toBe(-1);
    expect(await take(inbox, 'p', 0, 'i0', 'a')).toEqual({
      kind: 'deliver',
      frames: [{ seq: 0, id: 'i0', value: 'a' }],
      redelivered: true, // the first batch since open: the app cannot know it did not see it before a crash
    });
    expect(await take(inbox, 'p', 1, 'i1', 'b')).toMatchObject({ kind: 'deliver', redelivered: false });
    expect(inbox.ackState('p')).toBe(1);
    expect(inbox.ackState('other')).toBe(-1);
  });

  it('reports duplicates of delivered frames; a repeat of a buffered one stays buffered (not settled)', async () => {
    const inbox = await Inbox.open<string>(new MemoryStore());
    await take(inbox, 'p', 0, 'i0', 'a');
    expect(await inbox.accept('p', 0, 'i0', 'a')).toEqual({ kind: 'duplicate' });
    expect(await inbox.accept('p', 2, 'i2', 'c')).toEqual({ kind: 'buffered' });
    expect(await inbox.accept('p', 2, 'i2', 'c')).toEqual({ kind: 'buffered' });
    expect(inbox.ackState('p')).toBe(0); // buffered frames are not acknowledged
  });

  it('releases buffered successors once the gap is filled', async () => {
    const inbox = await Inbox.open<string>(new MemoryStore());
    expect(seqs(await inbox.accept('p', 3, 'i3', 'd'))).toBe('buffered');
    expect(seqs(await inbox.accept('p', 1, 'i1', 'b'))).toBe('buffered');
    expect(seqs(await take(inbox, 'p', 0, 'i0', 'a'))).toEqual([0, 1]);
    const r = await take(inbox, 'p', 2, 'i2', 'c');
    expect(r.kind === 'deliver' && r.frames.map((f) => f.value)).toEqual(['c', 'd']);
    expect(inbox.ackState('p')).toBe(3);
  });

  it('refuses frames beyond the window with OPPIE_ERR_REPLAY and bad seqs with OPPIE_ERR_PROTOCOL', async () => {
    const inbox = await Inbox.open<string>(new MemoryStore(), { window: 4 });
    expect(seqs(await inbox.accept('p', 4, 'i4', 'x'))).toBe('buffered');
    const err = await rejectsWith(inbox.accept('p', 5, 'i5', 'x'), 'OPPIE_ERR_REPLAY');
    expect(err.message).toMatch(/expected 0, window 4/);
    await rejectsWith(inbox.accept('p', -1, 'i', 'x'), 'OPPIE_ERR_PROTOCOL');
    await rejectsWith(inbox.accept('p', 1.5, 'i', 'x'), 'OPPIE_ERR_PROTOCOL');
    expect(seqs(await inbox.accept('p', 0, 'i0', 'x'))).toEqual([0]);
  });

  it('keeps recognising duplicates after a re-open on the same store', async () => {
    const store = new MemoryStore();
    const inbox = await Inbox.open<string>(store);
    await take(inbox, 'dev/1', 0, 'i0', 'a');
    await take(inbox, 'dev/1', 1, 'i1', 'b');
    expect(await inbox.accept('dev/1', 3, 'i3', 'd')).toEqual({ kind: 'buffered' }); // persisted too
    const again = await Inbox.open<string>(store);
    expect(again.corrupt).toBe(0);
    expect(again.ackState('dev/1')).toBe(1);
    expect(await again.accept('dev/1', 1, 'i1', 'b')).toEqual({ kind: 'duplicate' });
    // The buffered frame survived the restart (the relay may have forgotten it): filling the gap releases it.
    expect(await take(again, 'dev/1', 2, 'i2', 'c')).toEqual({
      kind: 'deliver',
      frames: [
        { seq: 2, id: 'i2', value: 'c' },
        { seq: 3, id: 'i3', value: 'd' },
      ],
      redelivered: true,
    });
    expect(await again.accept('dev/1', 3, 'i3', 'd')).toEqual({ kind: 'duplicate' });
    // Delivered buffered frames leave storage.
    expect(await store.keys('inbox-ahead/')).toEqual([]);
  });

  it('drops stored buffered frames that were delivered before a crash, and unreadable ones', async () => {
    const store = new MemoryStore();
    await store.set('inbox/p', '5');
    await store.set('inbox-ahead/p/3', JSON.stringify({ id: 'old', value: 'x' })); // below expected: delivered
    await store.set('inbox-ahead/p/7', 'not json');
    await store.set('inbox-ahead/p/6', JSON.stringify({ id: 'i6', value: 'g' }));
    const inbox = await Inbox.open<string>(store);
    expect((await store.keys('inbox-ahead/')).sort()).toEqual(['inbox-ahead/p/6']);
    expect(seqs(await inbox.accept('p', 5, 'i5', 'f'))).toEqual([5, 6]);
  });

  it('counts unreadable stored positions', async () => {
    const store = new MemoryStore();
    await store.set('inbox/p', 'garbage');
    await store.set('inbox/%E0%A4%A', '3');
    await store.set('inbox/q', '5');
    const inbox = await Inbox.open<string>(store);
    expect(inbox.corrupt).toBe(2);
    expect(inbox.ackState('q')).toBe(4);
  });

  it('stores the position only when told the batch was delivered; a crash before that repeats it, flagged', async () => {
    const store = new MemoryStore();
    const inbox = await Inbox.open<string>(store);
    await take(inbox, 'p', 0, 'i0', 'a');
    expect(await inbox.accept('p', 2, 'i2', 'c')).toEqual({ kind: 'buffered' });
    expect(seqs(await inbox.accept('p', 1, 'i1', 'b'))).toEqual([1, 2]); // handed to the app, not yet stored
    expect(await inbox.accept('p', 1, 'i1', 'b')).toEqual({ kind: 'duplicate' }); // in this process: once
    expect(inbox.ackState('p')).toBe(0); // the receipt waits for the store
    // The process dies here. After the restart the batch comes again, flagged, with the buffered frame still kept.
    const again = await Inbox.open<string>(store);
    expect(again.ackState('p')).toBe(0);
    expect(await take(again, 'p', 1, 'i1', 'b')).toEqual({
      kind: 'deliver',
      frames: [
        { seq: 1, id: 'i1', value: 'b' },
        { seq: 2, id: 'i2', value: 'c' },
      ],
      redelivered: true,
    });
    expect(again.ackState('p')).toBe(2);
    expect(await store.keys('inbox-ahead/')).toEqual([]);
    expect(await take(again, 'p', 3, 'i3', 'd')).toMatchObject({ kind: 'deliver', redelivered: false });
    // A late report for an earlier batch moves nothing back.
    await again.delivered('p', 1);
    expect(again.ackState('p')).toBe(3);
    expect(await store.get('inbox/p')).toBe('4');
  });

  it('leaves the stored position as it was when storage fails, and a later report covers the batch', async () => {
    const store = new FlakyStore();
    const inbox = await Inbox.open<string>(store);
    await inbox.accept('p', 1, 'i1', 'b');
    store.failWrites = true;
    await rejectsWith(inbox.accept('p', 2, 'i2', 'c'), 'OPPIE_ERR_STORAGE'); // buffering needs the store
    expect(seqs(await inbox.accept('p', 0, 'i0', 'a'))).toEqual([0, 1]);
    await rejectsWith(inbox.delivered('p', 1), 'OPPIE_ERR_STORAGE');
    expect(inbox.ackState('p')).toBe(-1);
    store.failWrites = false;
    expect(seqs(await take(inbox, 'p', 2, 'i2', 'c'))).toEqual([2]);
    expect(inbox.ackState('p')).toBe(2);
    expect(await store.keys('inbox-ahead/')).toEqual([]);
  });

  it('serialises concurrent accepts so a frame is never delivered twice', async () => {
    const inbox = await Inbox.open<number>(new MemoryStore());
    const results = await Promise.all([0, 0, 1, 1, 2].map((s) => inbox.accept('p', s, `i${s}`, s)));
    const delivered = results.flatMap((r) => (r.kind === 'deliver' ? r.frames.map((f) => f.value) : []));
    expect(delivered).toEqual([0, 1, 2]);
  });
});
