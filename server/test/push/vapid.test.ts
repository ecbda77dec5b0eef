import { describe, expect, it } from 'vitest';
import webpush from 'web-push';
import { loadVapid } from '../../src/push/vapid.js';

const config = { pushVapidSubject: 'mailto:ops@example.com', pushVapidKeyFile: undefined, publicUrl: undefined };
/** A store that already holds `stored` (as relay.db or Redis may, written by anyone). */
const holding = (stored: unknown) => ({ getOrCreate: async () => stored as { publicKey: string; privateKey: string } });

describe('loadVapid from the store', () => {
  it('uses the stored pair when it is one', async () => {
    const pair = webpush.generateVAPIDKeys();
    await expect(loadVapid(config, holding(pair))).resolves.toEqual({ ...pair, subject: config.pushVapidSubject });
  });

  it.each([
    ['halves of two pairs', { ...webpush.generateVAPIDKeys(), privateKey: webpush.generateVAPIDKeys().privateKey }],
    ['a short public key', { ...webpush.generateVAPIDKeys(), publicKey: 'AAAA' }],
    ['no private key', { publicKey: webpush.generateVAPIDKeys().publicKey }],
  ])('refuses a stored pair with %s, as it refuses such a key file', async (_, stored) => {
    await expect(loadVapid(config, holding(stored))).rejects.toMatchObject({
      name: 'ConfigError',
      variable: 'PUSH_VAPID_KEY_FILE',
      message: expect.stringContaining('stored VAPID key pair'),
    });
  });
});
