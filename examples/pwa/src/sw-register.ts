/**
 * Registers the service worker (production builds only: in dev it would cache Vite's modules) and follows its
 * `open` messages: a tapped notification asks an open window to show the pending approval.
 */
export function registerServiceWorker(): void {
  if (!('serviceWorker' in navigator)) return;
  navigator.serviceWorker.addEventListener('message', (e: MessageEvent<unknown>) => {
    const data = e.data as { t?: unknown; route?: unknown } | null;
    if (data?.t === 'open' && typeof data.route === 'string') location.hash = data.route.replace(/^\/?/, '');
  });
  if (!import.meta.env.PROD) return;
  navigator.serviceWorker.register('/sw.js').catch((err: unknown) => {
    console.warn('oppie-pwa: service worker registration failed', err);
  });
}
