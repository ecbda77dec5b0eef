/**
 * Oppie PWA service worker: an offline app shell and the Web Push wake-up.
 *
 * - install: precaches `/`, the manifest, the icons and every built asset. vite.config.ts emits this file as
 *   dist/sw.js with `self.OPPIE_BUILD = { version, assets }` in front, so every build has its own cache (the old one
 *   is deleted on activate) and a changed build reinstalls the worker.
 * - fetch: navigations are network-first with a 4 s timeout, falling back to the cached shell (only an app route's
 *   text/html response refreshes it); hashed /assets/ are cache-first; the relay's endpoints (/api, /session,
 *   /.well-known) are never cached nor intercepted.
 * - update: the new worker takes over at once; a page of the previous build reloads on `controllerchange`
 *   (src/sw-register.ts), since the previous build's assets go with its cache.
 * - push: the relay sends only opaque ids (`{"t":"wake","ids":[...],"from":"..."}`), never request content; the
 *   notification says something waits, and the app fetches the rest itself, end-to-end encrypted.
 * - notificationclick: focuses an open window (and routes it to the approvals) or opens `/#/approvals`.
 */
const BUILD = self.OPPIE_BUILD ?? { version: 'dev', assets: [] };
const CACHE = `oppie-shell-${BUILD.version}`;
const SHELL = ['/', '/manifest.webmanifest', '/icons/icon.svg', '/icons/icon-192.png', '/icons/icon-512.png'];
const APPROVALS = '/#/approvals';

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll([...SHELL, ...BUILD.assets]);
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys())
        if (key.startsWith('oppie-shell-') && key !== CACHE) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

function isRelayPath(pathname) {
  return pathname.startsWith('/api') || pathname.startsWith('/session') || pathname.startsWith('/.well-known');
}

/** Paths that serve the app shell (the app routes by hash); only their HTML is cached as the shell. */
const APP_ROUTES = new Set(['/', '/index.html']);
/** How long a navigation waits for the network before the cached shell is shown (a slow or captive network). */
const NAVIGATION_TIMEOUT_MS = 4000;

function isShell(url, res) {
  return res.ok && APP_ROUTES.has(url.pathname) && (res.headers.get('content-type') ?? '').startsWith('text/html');
}

/**
 * Network-first with a timeout. An app route's HTML response refreshes the cached shell; any other navigation (a
 * tab opened on /assets/x.js or /manifest.webmanifest) is never cached, and falls back to its own cached copy.
 */
async function navigate(event, url) {
  const fallback = async () => (await caches.match(APP_ROUTES.has(url.pathname) ? '/' : event.request)) ?? null;
  const network = fetch(event.request);
  // Whichever way the race below ends, the shell is refreshed when the response comes (cloned before the page reads
  // it: this callback is attached first). Without network the fallback answers; nothing to refresh.
  const refresh = async (res) => {
    if (!isShell(url, res)) return;
    const copy = res.clone();
    await (await caches.open(CACHE)).put('/', copy);
  };
  event.waitUntil(
    network.then(refresh, () => undefined).catch((err) => console.warn('oppie-sw: the shell was not refreshed', err)),
  );
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, NAVIGATION_TIMEOUT_MS, 'timeout');
  });
  try {
    const first = await Promise.race([network, timeout]);
    if (first !== 'timeout') return first;
    const cached = await fallback();
    return cached ?? (await network);
  } catch (err) {
    const cached = await fallback();
    if (cached !== null) return cached;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || isRelayPath(url.pathname)) return;
  if (req.mode === 'navigate') {
    event.respondWith(navigate(event, url));
    return;
  }
  event.respondWith(
    (async () => {
      const hit = await caches.match(req);
      if (hit !== undefined) return hit;
      const res = await fetch(req);
      if (res.ok && url.pathname.startsWith('/assets/')) {
        const cache = await caches.open(CACHE);
        await cache.put(req, res.clone());
      }
      return res;
    })(),
  );
});

/** The push payload: only opaque ids, parsed defensively (an unparseable push still shows the notification). */
function wakeOf(event) {
  try {
    const data = event.data?.json();
    if (data && data.t === 'wake') {
      return { t: 'wake', ids: Array.isArray(data.ids) ? data.ids.map(String) : [], from: String(data.from ?? '') };
    }
  } catch (err) {
    console.warn('oppie-sw: unreadable push payload', err);
  }
  return { t: 'wake', ids: [], from: '' };
}

self.addEventListener('push', (event) => {
  const wake = wakeOf(event);
  event.waitUntil(
    self.registration.showNotification('Approval waiting', {
      body: 'Open Oppie to review the request',
      tag: 'oppie-wake',
      renotify: true,
      icon: '/icons/icon-192.png',
      badge: '/icons/icon-192.png',
      data: { ...wake, url: APPROVALS },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((c) => new URL(c.url).origin === self.location.origin);
      if (open !== undefined) {
        await open.focus();
        open.postMessage({ t: 'open', route: APPROVALS });
        return;
      }
      await self.clients.openWindow(APPROVALS);
    })(),
  );
});
