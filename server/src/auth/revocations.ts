import type { Registry } from './stores.js';

/**
 * The set of revoked device ids, in memory so every token verification checks revocation without a store round
 * trip. Local revocations enter at once; `refresh()` pulls those made by other instances or processes. The set only
 * grows (a revoked device never comes back), one short string per revoked device.
 *
 * @example
 * const revoked = await RevocationCache.load(registry);
 * if (revoked.has(claims.deviceId)) throw new RelayError('RELAY_ERR_DEVICE_REVOKED');
 */
export class RevocationCache {
  readonly #ids = new Set<string>();
  readonly #registry: Registry;
  /** Newest revocation time seen; a refresh asks for revocations from there on. */
  #cursor = 0;

  private constructor(registry: Registry) {
    this.#registry = registry;
  }

  static async load(registry: Registry): Promise<RevocationCache> {
    const cache = new RevocationCache(registry);
    await cache.refresh();
    return cache;
  }

  has(deviceId: string): boolean {
    return this.#ids.has(deviceId);
  }

  add(deviceId: string): void {
    this.#ids.add(deviceId);
  }

  get size(): number {
    return this.#ids.size;
  }

  async refresh(): Promise<void> {
    // `>= cursor` re-reads the newest entries, so two revocations in the same millisecond are both seen.
    for (const { deviceId, revokedAt } of await this.#registry.revokedSince(this.#cursor)) {
      this.#ids.add(deviceId);
      if (revokedAt > this.#cursor) this.#cursor = revokedAt;
    }
  }
}
