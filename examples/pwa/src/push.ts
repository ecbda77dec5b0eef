/**
 * Web Push: the relay wakes a sleeping phone with an opaque notification when a high-priority message (an approval)
 * is queued for it. Subscribing needs the user's permission, so it starts from a button, never on load.
 */
import type { OppieClient } from 'oppie-client';
import { AppError, messageOf } from './errors.js';
import { hasPush, pushPublicKey, subscribePush } from './sdk-ext.js';

export function pushSupported(): boolean {
  return 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

export function pushPermission(): NotificationPermission | 'unsupported' {
  return pushSupported() ? Notification.permission : 'unsupported';
}

/** Asks for permission (call from a click), subscribes through the service worker and registers it with the relay. */
export async function enablePush(client: OppieClient): Promise<void> {
  if (!pushSupported()) throw new AppError('APP_ERR_UNSUPPORTED', 'this browser has no Web Push');
  if (!hasPush(client)) throw new AppError('APP_ERR_UNSUPPORTED', 'this SDK build has no Web Push support yet');
  const permission = Notification.permission === 'granted' ? 'granted' : await Notification.requestPermission();
  if (permission !== 'granted') throw new AppError('APP_ERR_PUSH_DENIED', 'notifications are not allowed');
  const registration = await navigator.serviceWorker.ready;
  const key = await pushPublicKey(client);
  let sub: PushSubscription;
  try {
    sub =
      (await registration.pushManager.getSubscription()) ??
      (await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: toKey(key) }));
  } catch (cause) {
    // The browser's push service refused (no push service, blocked, a key mismatch): a DOMException.
    const name = cause instanceof DOMException ? cause.name : 'Error';
    throw new AppError(
      'APP_ERR_PUSH_FAILED',
      `the browser could not subscribe to push (${name}: ${messageOf(cause)})`,
      {
        cause,
      },
    );
  }
  await subscribePush(client, sub.toJSON());
}

/** The relay's VAPID key: base64url text or raw bytes. */
function toKey(key: string | ArrayBuffer | Uint8Array): BufferSource {
  if (typeof key !== 'string') return key instanceof Uint8Array ? (key as Uint8Array<ArrayBuffer>) : key;
  const b64 = key
    .replace(/-/g, '+')
    .replace(/_/g, '/')
    .padEnd(Math.ceil(key.length / 4) * 4, '=');
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}
