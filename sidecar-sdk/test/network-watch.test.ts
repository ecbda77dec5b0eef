import { describe, expect, it } from 'vitest';
import { watchNetwork } from '../src/network-watch.js';

describe('watchNetwork', () => {
  it('calls back once per change of the interface list, and stops when told', async () => {
    let current = 'eth0/10.0.0.2';
    let changes = 0;
    const stop = watchNetwork(
      () => changes++,
      10,
      () => current,
    );
    await new Promise((r) => setTimeout(r, 40));
    expect(changes).toBe(0);
    current = 'eth0/10.0.0.2,wg0/10.9.0.1';
    await new Promise((r) => setTimeout(r, 40));
    expect(changes).toBe(1);
    stop();
    current = 'wlan0/192.168.1.4';
    await new Promise((r) => setTimeout(r, 40));
    expect(changes).toBe(1);
  });

  it('reads the real interfaces by default without calling back when nothing changed', async () => {
    let changes = 0;
    const stop = watchNetwork(() => changes++, 10);
    await new Promise((r) => setTimeout(r, 50));
    stop();
    expect(changes).toBe(0);
  });
});
