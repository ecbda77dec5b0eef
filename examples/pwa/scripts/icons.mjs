/**
 * Writes the PNG app icons (public/icons/icon-192.png, icon-512.png, icon-maskable-512.png) with Node alone: the
 * same ring-and-dot shape as icon.svg, rasterised with 4x4 supersampling, encoded with zlib. Run it after changing
 * the design; the PNGs are committed.
 *
 *   node examples/pwa/scripts/icons.mjs
 */
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';

const BG = [0x14, 0x32, 0x5c];
const RING = [0xff, 0xff, 0xff];
const DOT = [0x7f, 0xd1, 0xff];

/** Colour at (x, y) in a 512-unit design, or null outside the rounded square (transparent). */
function shade(x, y, maskable) {
  const r = maskable ? 0 : 96;
  const cx = Math.min(Math.max(x, r), 512 - r);
  const cy = Math.min(Math.max(y, r), 512 - r);
  if ((x - cx) ** 2 + (y - cy) ** 2 > r * r) return null;
  const d = Math.hypot(x - 256, y - 256);
  const [ring, half, dot] = maskable ? [110, 21, 30] : [150, 28, 40];
  if (d <= dot) return DOT;
  if (Math.abs(d - ring) <= half) return RING;
  return BG;
}

function png(size, maskable) {
  const raw = Buffer.alloc(size * (size * 4 + 1));
  const n = 4;
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      let [r, g, b, a] = [0, 0, 0, 0];
      for (let sy = 0; sy < n; sy++)
        for (let sx = 0; sx < n; sx++) {
          const c = shade(((x + (sx + 0.5) / n) * 512) / size, ((y + (sy + 0.5) / n) * 512) / size, maskable);
          if (c === null) continue;
          r += c[0];
          g += c[1];
          b += c[2];
          a += 1;
        }
      const o = y * (size * 4 + 1) + 1 + x * 4;
      raw[o] = a ? Math.round(r / a) : 0;
      raw[o + 1] = a ? Math.round(g / a) : 0;
      raw[o + 2] = a ? Math.round(b / a) : 0;
      raw[o + 3] = Math.round((a / (n * n)) * 255);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

const TABLE = Array.from({ length: 256 }, (_, i) => {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const out = (name) => new URL(`../public/icons/${name}`, import.meta.url);
writeFileSync(out('icon-192.png'), png(192, false));
writeFileSync(out('icon-512.png'), png(512, false));
writeFileSync(out('icon-maskable-512.png'), png(512, true));
console.log('icons: wrote icon-192.png, icon-512.png, icon-maskable-512.png');
