/**
 * Web Push: the relay wakes a sleeping phone with an opaque notification when a high-priority message (an approval)
 * is queued for it. Subscribing needs the user's permission, so it starts from a button, never on load.
 *
 * Push goes through the installed service worker, which only the production build registers (sw-register.ts): in
 * the dev server `enablePush` fails at once with `APP_ERR_PUSH_NEEDS_SW`. Browsers without a push service (headless
 * Chromium, some desktop builds) fail at `subscribe()` with `APP_ERR_PUSH_FAILED`.
 */
import type { OppieClient } from 'oppie-client';
import { AppError, messageOf } from './errors.js';

/** How long a registered but not yet active service worker (the first visit) may take to activate. */
const READY_TIMEOUT_MS = 10_000;

export function pushSupported(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

export function pushPermission(): NotificationPermission | 'unsupported' {
  return pushSupported() ? Notification.permission : 'unsupported';
}

/** Whether notifications are on: permission granted and the service worker holds a push subscription. */
export async function pushEnabled(): Promise<boolean> {
  if (pushPermission() !== 'granted') return false;
  const registration = await navigator.serviceWorker.getRegistration();
  return (await registration?.pushManager.getSubscription()) != null;
}

/** Asks for permission (call from a click), subscribes through the service worker and registers it with the relay. */
export async function enablePush(client: OppieClient): Promise<void> {
  if (!pushSupported()) throw new AppError('APP_ERR_UNSUPPORTED', 'this browser has no Web Push');
  const registration = await activeRegistration();
  const permission = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
  if (permission !== 'granted') throw new AppError('APP_ERR_PUSH_DENIED', 'notifications are not allowed');
  const key = base64url(await client.pushPublicKey());
  let sub: PushSubscription;
  try {
    let current = await registration.pushManager.getSubscription();
    // A subscription is bound to the VAPID key it was made with; after a key rotation (docs/operations.md) the
    // relay's pushes to it fail, so it is replaced.
    if (current !== null && !sameBytes(current.options.applicationServerKey, key)) {
      await current.unsubscribe();
      current = null;
    }
    sub = current ?? (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key }));
  } catch (cause) {
    // The browser's push service refused (none in headless browsers, blocked, a key mismatch): a DOMException.
    const name = cause instanceof DOMException ? cause.name : 'Error';
    throw new AppError(
      'APP_ERR_PUSH_FAILED',
      `the browser could not subscribe to push (${name}: ${messageOf(cause)})`,
      {
        cause,
      },
    );
  }
  await client.subscribePush(keysOf(sub));
}

/**
 * On start, when notifications are on: checks the subscription against the relay's current key (replacing it after
 * a rotation) and registers it again. Never asks for permission.
 */
export async function refreshPush(client: OppieClient): Promise<void> {
  if (await pushEnabled()) await enablePush(client);
}

/** Turns notifications off: the relay forgets the subscription first, then the browser drops it. */
export async function disablePush(client: OppieClient): Promise<void> {
  const registration = pushSupported() ? await navigator.serviceWorker.getRegistration() : undefined;
  const sub = await registration?.pushManager.getSubscription();
  await client.unsubscribePush();
  await sub?.unsubscribe();
}

/** The registration push goes through; `APP_ERR_PUSH_NEEDS_SW` when there is none (the dev server). */
async function activeRegistration(): Promise<ServiceWorkerRegistration> {
  const registration = await navigator.serviceWorker.getRegistration();
  if (registration === undefined) throw needsServiceWorker('no service worker is registered');
  if (registration.active !== null) return registration;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(needsServiceWorker(`the service worker did not activate within ${READY_TIMEOUT_MS / 1000} s`)),
      READY_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([navigator.serviceWorker.ready, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function needsServiceWorker(why: string): AppError {
  return new AppError(
    'APP_ERR_PUSH_NEEDS_SW',
    `Notifications need the app's service worker, which only the production build installs (npm run build:pwa, ` +
      `then serve examples/pwa/dist): ${why}`,
  );
}

function keysOf(sub: PushSubscription): { endpoint: string; keys: { p256dh: string; auth: string } } {
  const { endpoint, keys } = sub.toJSON();
  const p256dh = keys?.p256dh;
  const auth = keys?.auth;
  if (endpoint === undefined || p256dh === undefined || auth === undefined)
    throw new AppError('APP_ERR_UNSUPPORTED', 'the browser returned a push subscription without endpoint or keys');
  return { endpoint, keys: { p256dh, auth } };
}

/** The relay's VAPID public key (base64url) as bytes. */
function base64url(key: string): Uint8Array<ArrayBuffer> {
  const b64 = key
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(key.length / 4) * 4, '=');
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

function sameBytes(a: ArrayBuffer | null, b: Uint8Array): boolean {
  if (a === null || a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a);
  return x.every((v, i) => v === b[i]);
}
