import { describe, expect, it } from 'vitest';
import { MemoryDedupeStore } from '../../src/queue/dedupe.js';

describe('MemoryDedupeStore', () => {
  it('reports a repeated id per sender, not across senders', async () => {
    const d = new MemoryDedupeStore(8);
    expect(await d.seen('a', 'x')).toBe(false);
    expect(await d.seen('a', 'x')).toBe(true);
    expect(await d.seen('b', 'x')).toBe(false);
  });

  it('remembers a bounded window of ids per sender', async () => {
    const d = new MemoryDedupeStore(3);
    for (const id of ['1', '2', '3', '4']) await d.seen('a', id);
    expect(await d.seen('a', '1')).toBe(false); // fell out of the window
    expect(await d.seen('a', '4')).toBe(true);
  });

  it('keeps a re-added id for a full window after it was forgotten', async () => {
    const d = new MemoryDedupeStore(3);
    await d.seen('a', 'x'); // slot 0
    await d.forget('a', 'x');
    await d.seen('a', 'y'); // slot 1
    await d.seen('a', 'x'); // slot 2: x is back
    await d.seen('a', 'z'); // overwrites slot 0, which held the forgotten x: the live x must stay
    expect(await d.seen('a', 'x')).toBe(true);
  });

  it('forgets an id on request and bounds the number of senders', async () => {
    const d = new MemoryDedupeStore(3, 2);
    await d.seen('a', '1');
    await d.forget('a', '1');
    expect(await d.seen('a', '1')).toBe(false);
    await d.seen('b', '1');
    await d.seen('c', '1'); // evicts the least recently active sender
    expect(await d.seen('b', '1')).toBe(true);
    expect(await d.seen('a', '1')).toBe(false);
  });

  it('forgets every id of every sender on clear (after missing other instances forgets)', async () => {
    const d = new MemoryDedupeStore(8);
    await d.seen('a', '1');
    await d.seen('b', '2');
    await d.clear();
    expect(await d.seen('a', '1')).toBe(false);
    expect(await d.seen('b', '2')).toBe(false);
    expect(await d.seen('a', '1')).toBe(true); // remembering again from here
  });
});
