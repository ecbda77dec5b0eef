import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Transfers } from '../src/transfers.js';

describe('transfer bars', () => {
  let changes = 0;
  let list: Transfers;
  const ids = () => [...list.values()].map((t) => t.id);

  beforeEach(() => {
    vi.useFakeTimers();
    changes = 0;
    list = new Transfers(() => changes++);
  });
  afterEach(() => vi.useRealTimers());

  it('drops a completed transfer after the linger time', () => {
    list.progress('ws', 't1', 4, 4);
    expect(ids()).toEqual(['t1']);
    vi.advanceTimersByTime(1500);
    expect(ids()).toEqual([]);
    expect(changes).toBe(2);
  });

  it('drops a transfer superseded by another from the same peer, or by a message from it', () => {
    list.progress('ws', 't1', 1, 4);
    list.progress('other', 'o1', 1, 4);
    list.progress('ws', 't2', 1, 4);
    expect(ids()).toEqual(['o1', 't2']);
    list.messageFrom('ws');
    expect(ids()).toEqual(['o1']);
  });

  it('drops a transfer without progress within 30 s of a reconnect', () => {
    list.progress('ws', 'stuck', 1, 4);
    list.progress('other', 'moving', 1, 4);
    vi.advanceTimersByTime(10);
    list.reconnected();
    vi.advanceTimersByTime(1000);
    list.progress('other', 'moving', 2, 4);
    vi.advanceTimersByTime(30_000);
    expect(ids()).toEqual(['moving']);
  });

  it('shows at most 8, dropping the oldest', () => {
    for (let i = 0; i < 10; i++) list.progress(`peer-${i}`, `t${i}`, 1, 4);
    expect(ids()).toEqual(['t2', 't3', 't4', 't5', 't6', 't7', 't8', 't9']);
  });
});
