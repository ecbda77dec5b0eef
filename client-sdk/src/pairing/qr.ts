/**
 * QR codes for the pairing link, from the `qrcode` package. Only `QRCode.create` (the matrix) and the SVG string
 * renderer are used: both exist in qrcode's browser build and its Node build, so this file runs in either. The
 * terminal rendering is drawn here from the matrix rather than by qrcode's Node-only terminal renderer.
 */
import QRCode from 'qrcode';

/** Medium error correction: the link is long (~250 chars), and M keeps the symbol small enough to scan from a screen. */
const LEVEL = 'M';

/**
 * The link as an SVG document.
 *
 * @example
 * element.innerHTML = await pairingQrSvg(formatPairingLink(link));
 */
export async function pairingQrSvg(link: string): Promise<string> {
  return QRCode.toString(link, { type: 'svg', errorCorrectionLevel: LEVEL, margin: 4 });
}

/**
 * The link as text for a terminal: two modules per character with half blocks, dark on light, with the quiet zone
 * the spec asks for (scanners fail on a code that touches the terminal's dark background).
 *
 * @example
 * process.stdout.write(await pairingQrTerminal(formatPairingLink(link)));
 */
export async function pairingQrTerminal(link: string): Promise<string> {
  const { modules } = QRCode.create(link, { errorCorrectionLevel: LEVEL });
  const quiet = 2;
  const size = modules.size;
  const dark = (r: number, c: number) => r >= 0 && c >= 0 && r < size && c < size && modules.get(r, c) === 1;
  const lines: string[] = [];
  for (let r = -quiet; r < size + quiet; r += 2) {
    let line = '';
    for (let c = -quiet; c < size + quiet; c++) {
      const top = dark(r, c);
      const bottom = dark(r + 1, c);
      // Light modules are drawn as block characters, so the code reads right on a dark terminal background.
      line += top ? (bottom ? ' ' : '▄') : bottom ? '▀' : '█';
    }
    lines.push(line);
  }
  return `${lines.join('\n')}\n`;
}
