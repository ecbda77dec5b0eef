/// <reference lib="dom" />
/**
 * @oppie/client-sdk/browser: what a PWA adds to the core SDK: IndexedDB storage and the online/visibility hooks.
 * Kept out of the core entry so the core stays free of DOM types and runs unchanged in Node.
 *
 * @example
 * import { OppieClient } from '@oppie/client-sdk';
 * import { attachBrowserLifecycle, browserPlatform } from '@oppie/client-sdk/browser';
 * const client = await OppieClient.create({ relayUrl, role: 'pwa', name: 'phone', platform: browserPlatform() });
 * attachBrowserLifecycle(client);
 */
export { browserPlatform, IndexedDbStore, type IndexedDbStoreOptions, prefixRange } from './indexeddb-store.js';
export { attachBrowserLifecycle, type LifecycleTargets, type Resumable } from './lifecycle.js';
