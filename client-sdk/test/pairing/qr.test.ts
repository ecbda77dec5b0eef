import { describe, expect, it } from 'vitest';
import { pairingQrSvg, pairingQrTerminal } from '../../src/pairing/qr.js';

const LINK = `oppie://pair?v=1&relay=https%3A%2F%2Frelay.example.com&code=ABCDEFGH-ABCDEFGHIJKLMNOPQRSTUVWX&sidecar=${'a'.repeat(22)}&pk=${'A'.repeat(43)}#s=${'B'.repeat(43)}`;

describe('pairing QR code', () => {
  it('renders an SVG document', async () => {
    const svg = await pairingQrSvg(LINK);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('</svg>');
  });

  it('renders a square block drawing for a terminal, with a light quiet zone', async () => {
    const text = await pairingQrTerminal(LINK);
    const lines = text.trimEnd().split('\n');
    const width = lines[0]?.length ?? 0;
    expect(lines.every((l) => l.length === width)).toBe(true);
    // Two modules per line: height in modules equals width, rounded up to even.
    expect(lines.length).toBe(Math.ceil(width / 2));
    expect(lines[0]).toBe('█'.repeat(width));
  });
});
