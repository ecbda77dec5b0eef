import { pairingQrTerminal } from '@oppie/client-sdk';
import type { DemoSidecar } from './demo-sidecar.js';
import { errorText } from './errors.js';

/**
 * Until a PWA pairs: prints a pairing QR code (the client SDK's terminal renderer, as `oppie-sidecar pair` does) and
 * the link, waits, prints the check code; a link that expired is replaced by a new one. Resolves once paired, at
 * once when already paired, or when the sidecar closes.
 *
 * @example
 * void showPairing(demo, (t) => process.stdout.write(t));
 */
export async function showPairing(demo: DemoSidecar, write: (text: string) => void): Promise<void> {
  while (!demo.paired()) {
    let pairing: Awaited<ReturnType<DemoSidecar['createPairing']>>;
    try {
      pairing = await demo.createPairing();
    } catch (err) {
      return write(`Could not create a pairing link: ${errorText(err)}\n`);
    }
    write(await pairingQrTerminal(pairing.link));
    write(`Pairing link (valid until ${new Date(pairing.expiresAt).toISOString()}):\n${pairing.link}\n`);
    try {
      const peer = await pairing.completed;
      return write(`Paired with ${peer.name} (${peer.deviceId}). Check that it shows the same code: ${peer.sas}\n`);
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'OPPIE_ERR_CLOSED') return; // the sidecar is closing
      if (code !== 'OPPIE_ERR_PAIRING_TIMEOUT') return write(`Pairing ended: ${errorText(err)}\n`);
      write('The pairing link expired; here is a new one.\n');
    }
  }
}
