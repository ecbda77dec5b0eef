import { createRequire } from 'node:module';
import type { RtcImplementation } from '@oppie/client-sdk';

let loaded: { rtc: RtcImplementation | undefined; error: unknown } | undefined;

/**
 * `@roamhq/wrtc` (libwebrtc for Node), loaded on first use. It is a native module: on a platform it has no build for,
 * this returns undefined with the load error, and the sidecar runs relay-only instead of failing to start.
 *
 * @example
 * const { rtc, error } = loadNodeRtc();
 * if (rtc === undefined) console.warn('direct path off:', error);
 */
export function loadNodeRtc(): { rtc: RtcImplementation | undefined; error: unknown } {
  if (loaded === undefined) {
    try {
      const wrtc = createRequire(import.meta.url)('@roamhq/wrtc') as RtcImplementation;
      loaded = { rtc: wrtc, error: undefined };
    } catch (error) {
      loaded = { rtc: undefined, error };
    }
  }
  return loaded;
}
