import { describe, expect, it } from 'vitest';
import { RunningParts } from '../src/running-parts.js';

describe('RunningParts', () => {
  it('stops every part even when one fails to stop, and reports the failure by name', async () => {
    const parts = new RunningParts();
    const stopped: string[] = [];
    await parts.add('relay', async () => {
      stopped.push('relay');
    });
    await parts.add('sidecar', async () => {
      throw new Error('close failed');
    });
    await parts.add('vite', async () => {
      stopped.push('vite');
    });
    expect(await parts.stopAll()).toEqual(['sidecar: close failed']);
    expect(stopped.sort()).toEqual(['relay', 'vite']);
    expect(await parts.stopAll()).toEqual(['sidecar: close failed']); // once only
    expect(stopped).toHaveLength(2);
  });

  it('a part that finished starting after stopAll is stopped at once', async () => {
    const parts = new RunningParts();
    await parts.stopAll();
    let stopped = false;
    await parts.add('late', async () => {
      stopped = true;
    });
    expect(stopped).toBe(true);
  });
});
