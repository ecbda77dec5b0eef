/**
 * Registers the service worker (production builds only: in dev it would cache Vite's modules) and follows its
 * `open` messages: a tapped notification asks an open window to show the pending approval.
 *
 * Updates: a new build's worker activates at once (skipWaiting + clients.claim) and deletes the previous build's
 * cache, so a page still running the previous build could no longer load its lazy chunks (jsQR). Such a page reloads
 * once when the new worker takes control. The first takeover of a page loaded without a controller (the first visit)
 * does not reload, and a reload for this reason at most once per RELOAD_GUARD_MS guards against a loop.
 */
const RELOADED_AT = 'oppie-pwa/sw-reloaded-at';
const RELOAD_GUARD_MS = 30_000;

export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (e: MessageEvent<unknown>) => {
    const data = e.data as { t?: unknown; route?: unknown } | null;
    if (data?.t === 'open' && typeof data.route === 'string') location.hash = data.route.replace(/^\/?/, '');
  });
  if (!import.meta.env.PROD) return;
  reloadOnUpdate();
  navigator.serviceWorker.register('/sw.js').catch((err: unknown) => {
    console.warn('oppie-pwa: service worker registration failed', err);
  });
}

function reloadOnUpdate(): void {
  // A page loaded without a controller (the first visit) is claimed by the worker of its own build: that first
  // change needs no reload; any later one comes from a newer build.
  let controlled = navigator.serviceWorker.controller !== null;
  let reloading = false;
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    if (!controlled) {
      controlled = true;
      return;
    }
    if (reloading) return;
    const last = Number(sessionStorage.getItem(RELOADED_AT) ?? 0);
    if (Date.now() - last < RELOAD_GUARD_MS) {
      console.warn('oppie-pwa: a new service worker took over again; not reloading twice in a row');
      return;
    }
    reloading = true;
    sessionStorage.setItem(RELOADED_AT, String(Date.now()));
    location.reload();
  });
}
