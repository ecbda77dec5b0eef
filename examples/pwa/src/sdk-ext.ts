/**
 * Typed access to SDK members that are being added to `OppieClient` while this app is written (OTP step-up and Web
 * Push). Going through this module keeps the rest of the app compiling whether or not the bundle's typings have them
 * yet; a member that is missing at run time fails with `APP_ERR_UNSUPPORTED` instead of a TypeError.
 */
import type { OppieClient } from 'oppie-client';
import { AppError } from './errors.js';

/** What the relay needs of a `PushSubscription`. */
export interface PushKeys {
  readonly endpoint: string;
  readonly keys: { readonly p256dh: string; readonly auth: string };
}

/** The members the app expects on the client, all optional here. */
interface PendingSdkMembers {
  readonly stepUpRequired?: boolean;
  stepUp?(code: string): Promise<void>;
  enrollOtp?(): Promise<{ secret: string; uri: string }>;
  pushPublicKey?(): Promise<string | ArrayBuffer | Uint8Array>;
  subscribePush?(subscription: PushKeys): Promise<void>;
}

function ext(client: OppieClient): PendingSdkMembers {
  return client as unknown as PendingSdkMembers;
}

function missing(name: string): AppError {
  return new AppError('APP_ERR_UNSUPPORTED', `this SDK build has no client.${name}()`);
}

/** Whether the account requires a fresh TOTP step-up before an approval. */
export function stepUpRequired(client: OppieClient): boolean {
  return ext(client).stepUpRequired === true;
}

export async function stepUp(client: OppieClient, code: string): Promise<void> {
  const c = ext(client);
  if (c.stepUp === undefined) throw missing('stepUp');
  await c.stepUp(code);
}

export async function enrollOtp(client: OppieClient): Promise<{ secret: string; uri: string }> {
  const c = ext(client);
  if (c.enrollOtp === undefined) throw missing('enrollOtp');
  return c.enrollOtp();
}

export function hasPush(client: OppieClient): boolean {
  const c = ext(client);
  return c.pushPublicKey !== undefined && c.subscribePush !== undefined;
}

export async function pushPublicKey(client: OppieClient): Promise<string | ArrayBuffer | Uint8Array> {
  const c = ext(client);
  if (c.pushPublicKey === undefined) throw missing('pushPublicKey');
  return c.pushPublicKey();
}

export async function subscribePush(client: OppieClient, subscription: PushSubscriptionJSON): Promise<void> {
  const c = ext(client);
  if (c.subscribePush === undefined) throw missing('subscribePush');
  const { endpoint, keys } = subscription;
  const p256dh = keys?.p256dh;
  const auth = keys?.auth;
  if (endpoint === undefined || p256dh === undefined || auth === undefined)
    throw new AppError('APP_ERR_UNSUPPORTED', 'the browser returned a push subscription without endpoint or keys');
  await c.subscribePush({ endpoint, keys: { p256dh, auth } });
}
