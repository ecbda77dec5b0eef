/**
 * The token signing keys: one active RS256 key signs, every key still inside its verification window verifies, and
 * all of those are published as a JWKS so other relay instances and services can verify tokens too.
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, exportJWK, type JWK } from 'jose';
import type { Audit } from '../audit.js';
import type { SigningKeyStore, StoredSigningKey } from './stores.js';

/** The longest token lifetime the configuration allows (TOKEN_TTL_SECONDS max): how long a retired key must verify. */
export const MAX_TOKEN_TTL_SECONDS = 900;

const generateRsa = promisify(generateKeyPair);

export interface KeyRingConfig {
  readonly jwtSigningKeyFile: string | undefined;
  readonly jwtVerifyKeyFiles: string | undefined;
}

interface RingKey {
  readonly kid: string;
  readonly publicKey: KeyObject;
  readonly jwk: JWK;
  /** null: verifies until removed (the active key, or an operator-supplied verify key). */
  readonly verifyUntil: number | null;
}

/** RFC 7638 thumbprint of an RSA public key: the `kid` of the key. */
export async function keyId(publicKey: KeyObject): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(publicKey), 'sha256');
}

function assertRsa(key: KeyObject, source: string): void {
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== 'rsa' || bits < 2048)
    throw new Error(`${source}: expected an RSA key of 2048 bits or more`);
}

async function ringKey(publicKey: KeyObject, verifyUntil: number | null): Promise<RingKey> {
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk, 'sha256');
  return { kid, publicKey, jwk: { kty: jwk.kty, n: jwk.n, e: jwk.e, kid, alg: 'RS256', use: 'sig' }, verifyUntil };
}

/**
 * Holds the keys in memory so signing and verifying never wait on the store. `refresh()` reloads them, which is how
 * a rotation done by another process (the CLI) or another instance reaches this one.
 *
 * @example
 * const ring = await KeyRing.load({ store, config, now: Date.now });
 * const { kid, privateKey } = ring.signingKey();
 */
export class KeyRing {
  #signing: { kid: string; privateKey: KeyObject } | undefined;
  #keys = new Map<string, RingKey>();
  readonly #store: SigningKeyStore;
  readonly #config: KeyRingConfig;
  readonly #now: () => number;

  private constructor(store: SigningKeyStore, config: KeyRingConfig, now: () => number) {
    this.#store = store;
    this.#config = config;
    this.#now = now;
  }

  static async load(opts: { store: SigningKeyStore; config: KeyRingConfig; now: () => number }): Promise<KeyRing> {
    const ring = new KeyRing(opts.store, opts.config, opts.now);
    await ring.refresh();
    return ring;
  }

  /** Whether the signing key comes from JWT_SIGNING_KEY_FILE (rotation is then the operator's file swap). */
  get fromFiles(): boolean {
    return this.#config.jwtSigningKeyFile !== undefined;
  }

  signingKey(): { kid: string; privateKey: KeyObject } {
    if (!this.#signing) throw new Error('no signing key loaded');
    return this.#signing;
  }

  /** The public key for `kid`, if it is known and inside its verification window. */
  verificationKey(kid: string): KeyObject | undefined {
    const key = this.#keys.get(kid);
    if (!key || (key.verifyUntil !== null && key.verifyUntil <= this.#now())) return undefined;
    return key.publicKey;
  }

  /** The public keys that currently verify, as a JWKS (public members only). */
  jwks(): { keys: JWK[] } {
    const now = this.#now();
    return {
      keys: [...this.#keys.values()].filter((k) => k.verifyUntil === null || k.verifyUntil > now).map((k) => k.jwk),
    };
  }

  /** Reloads keys from files or the store; in the embedded mode creates the first key and drops retired ones. */
  async refresh(): Promise<void> {
    if (this.#config.jwtSigningKeyFile !== undefined) return this.#loadFiles(this.#config.jwtSigningKeyFile);
    await this.#store.deleteExpired(this.#now());
    let stored = await this.#store.list();
    if (!stored.some((k) => k.active)) {
      await rotateSigningKey(this.#store, { clockSkewSeconds: 0, now: this.#now });
      stored = await this.#store.list();
    }
    await this.#loadStored(stored);
  }

  async #loadStored(stored: StoredSigningKey[]): Promise<void> {
    const keys = new Map<string, RingKey>();
    for (const s of stored) {
      const key = await ringKey(createPublicKey(s.publicPem), s.active ? null : s.verifyUntil);
      keys.set(key.kid, key);
      if (s.active && s.privatePem !== null)
        this.#signing = { kid: key.kid, privateKey: createPrivateKey(s.privatePem) };
    }
    this.#keys = keys;
  }

  async #loadFiles(signingFile: string): Promise<void> {
    const privateKey = createPrivateKey(readFileSync(signingFile));
    assertRsa(privateKey, 'JWT_SIGNING_KEY_FILE');
    const active = await ringKey(createPublicKey(privateKey), null);
    const keys = new Map([[active.kid, active]]);
    const verifyFiles = (this.#config.jwtVerifyKeyFiles ?? '')
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean);
    for (const file of verifyFiles) {
      const publicKey = createPublicKey(readFileSync(file));
      assertRsa(publicKey, `JWT_VERIFY_KEY_FILES (${file})`);
      const key = await ringKey(publicKey, null);
      keys.set(key.kid, key);
    }
    this.#signing = { kid: active.kid, privateKey };
    this.#keys = keys;
  }
}

/** What a rotation did. */
export interface RotationResult {
  readonly kid: string;
  readonly previousKid: string | undefined;
  /** When the previous key stops verifying and leaves the JWKS (ms since the epoch). */
  readonly previousVerifyUntil: number | undefined;
}

/**
 * Generates a new RSA-2048 signing key and makes it the active one in the store. The previous key keeps verifying,
 * and stays in the JWKS, until every token it signed has expired: now + the longest token lifetime + clock skew.
 * Running instances pick the new key up on their next key refresh.
 *
 * @example
 * // oppie-relay keys rotate
 * const { kid } = await rotateSigningKey(new SqliteSigningKeyStore(openDatabase(dataDir)), { clockSkewSeconds: 60 });
 */
export async function rotateSigningKey(
  store: SigningKeyStore,
  opts: { clockSkewSeconds: number; now?: () => number; audit?: Audit },
): Promise<RotationResult> {
  const now = (opts.now ?? Date.now)();
  const { publicKey, privateKey } = await generateRsa('rsa', { modulusLength: 2048 });
  const kid = await keyId(publicKey);
  const previous = (await store.list()).find((k) => k.active);
  const retireAt = now + (MAX_TOKEN_TTL_SECONDS + opts.clockSkewSeconds) * 1000;
  await store.activate(
    {
      kid,
      privatePem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
      publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
      createdAt: now,
      active: true,
      verifyUntil: null,
    },
    retireAt,
  );
  const result = { kid, previousKid: previous?.kid, previousVerifyUntil: previous ? retireAt : undefined };
  opts.audit?.log('keys.rotated', result);
  return result;
}
