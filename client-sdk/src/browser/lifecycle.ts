/// <reference lib="dom" />
/**
 * Browser lifecycle hooks: a phone puts the tab to sleep and drops the network often, and the reconnect backoff may
 * then be waiting for many seconds. Coming back online or to the foreground reconnects at once.
 */

/** What the lifecycle needs of a client: `OppieClient` fits. */
export interface Resumable {
  resume(): void;
  /** Optional: called instead of `resume` when the network came back (restarts the direct path too). */
  networkChanged?(): void;
}

export interface LifecycleTargets {
  /** Receives `online`. Default `globalThis.window`. */
  readonly window?: Pick<Window, 'addEventListener' | 'removeEventListener'>;
  /** Receives `visibilitychange`; its `visibilityState` is read. Default `globalThis.document`. */
  readonly document?: Pick<Document, 'addEventListener' | 'removeEventListener' | 'visibilityState'>;
}

/**
 * Calls `client.resume()` when the page becomes visible again, and `client.networkChanged()` (which also starts the
 * direct path over) when the browser comes back online.
 * Returns a function that removes both listeners.
 *
 * @example
 * const detach = attachBrowserLifecycle(client);
 * // on logout:
 * detach();
 * await client.close();
 */
export function attachBrowserLifecycle(client: Resumable, targets: LifecycleTargets = {}): () => void {
  const win = targets.window ?? (globalThis as { window?: LifecycleTargets['window'] }).window;
  const doc = targets.document ?? (globalThis as { document?: LifecycleTargets['document'] }).document;
  const onOnline = () => (client.networkChanged ? client.networkChanged() : client.resume());
  const onVisibility = () => {
    if (doc?.visibilityState === 'visible') client.resume();
  };
  win?.addEventListener('online', onOnline);
  doc?.addEventListener('visibilitychange', onVisibility);
  return () => {
    win?.removeEventListener('online', onOnline);
    doc?.removeEventListener('visibilitychange', onVisibility);
  };
}
