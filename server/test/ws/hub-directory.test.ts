/**
 * An account's device directory on a relay instance, read from the store by the account's first connection here:
 * devices paired or revoked while that read is under way are not lost (the read may predate them).
 */
import { describe, expect, it } from 'vitest';
import { Hub } from '../../src/ws/hub.js';

describe('account directory', () => {
  it('applies the pairings and revocations that came while it was being read', () => {
    const hub = new Hub();
    hub.loadingDirectory('acct');
    // Events while the store is read: one device paired, one revoked.
    hub.addToDirectory('acct', 'new-phone', { role: 'pwa', name: 'new phone' });
    hub.removeFromDirectory('acct', 'old-phone');
    // The read predates both.
    hub.setDirectory('acct', [
      ['sidecar', { role: 'sidecar', name: 'workstation' }],
      ['old-phone', { role: 'pwa', name: 'old phone' }],
    ]);
    expect([...(hub.directory('acct')?.keys() ?? [])].sort()).toEqual(['new-phone', 'sidecar']);
    // A second read of the same account (another connection, in parallel) does not replace the current directory.
    hub.setDirectory('acct', [['sidecar', { role: 'sidecar', name: 'workstation' }]]);
    expect([...(hub.directory('acct')?.keys() ?? [])].sort()).toEqual(['new-phone', 'sidecar']);
  });

  it('keeps nothing for an account nobody is reading', () => {
    const hub = new Hub();
    hub.addToDirectory('acct', 'phone', { role: 'pwa', name: 'phone' });
    hub.setDirectory('acct', [['sidecar', { role: 'sidecar', name: 'workstation' }]]);
    expect([...(hub.directory('acct')?.keys() ?? [])]).toEqual(['sidecar']);
  });
});
