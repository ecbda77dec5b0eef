/**
 * A fake camera for Chromium that films a QR code: the text is drawn as a QR code into a .y4m video, which Chromium's
 * fake capture device plays in a loop (`--use-file-for-fake-video-capture`). The approach of
 * examples/pwa/scripts/smoke.mjs (`QR=1`), as a helper the tests share.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import QRCode from 'qrcode';

/** Video-range luma: the light paper and the dark modules. Chroma 128 is grey, so the frame is black and white. */
const LIGHT = 235;
const DARK = 16;
const NEUTRAL_CHROMA = 128;
/** The quiet zone the QR spec asks for, in modules: scanners need it to find the finder patterns. */
const QUIET = 4;

/** A file Chromium plays as its camera, and the flags that make it do so. */
export interface FakeCamera {
  /** The .y4m file, in a temp dir of its own. */
  readonly file: string;
  /**
   * Chromium flags: a fake capture device that plays `file`. No `--use-fake-ui-for-media-stream`: whether a page
   * may use the camera stays the browser context's permission (`permissions: ['camera']`), so one browser can show
   * both a granted and a denied camera.
   */
  readonly args: readonly string[];
  /** Removes the temp dir. */
  close(): Promise<void>;
}

/**
 * One YUV 4:2:0 frame showing `text` as a QR code (error correction M, as the sidecar prints it), centred, as a
 * single-frame y4m video. Throws when the code does not fit the frame at two pixels per module.
 *
 * @example
 * await writeFile('qr.y4m', qrY4m(offer.link));
 */
export function qrY4m(text: string, width = 640, height = 480): Buffer {
  if (width % 2 !== 0 || height % 2 !== 0) throw new Error('qrY4m: width and height must be even (4:2:0 chroma)');
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const n = modules.size;
  const scale = Math.floor(Math.min(width, height) / (n + 2 * QUIET));
  if (scale < 2) throw new Error(`qrY4m: a ${n}-module code does not fit a ${width}x${height} frame`);
  const luma = Buffer.alloc(width * height, LIGHT);
  const left = Math.floor((width - n * scale) / 2);
  const top = Math.floor((height - n * scale) / 2);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (!modules.get(r, c)) continue;
      for (let dy = 0; dy < scale; dy++) {
        const row = (top + r * scale + dy) * width;
        luma.fill(DARK, row + left + c * scale, row + left + (c + 1) * scale);
      }
    }
  }
  const chroma = Buffer.alloc((width / 2) * (height / 2) * 2, NEUTRAL_CHROMA);
  return Buffer.concat([
    Buffer.from(`YUV4MPEG2 W${width} H${height} F30:1 Ip A1:1 C420jpeg\n`),
    Buffer.from('FRAME\n'),
    luma,
    chroma,
  ]);
}

/**
 * Writes a fake camera that films `text` as a QR code. Call `close()` when the browser using it is closed.
 *
 * @example
 * const camera = await fakeCameraShowing(offer.link);
 * const browser = await launchChromium(camera.args);
 */
export async function fakeCameraShowing(text: string): Promise<FakeCamera> {
  const dir = await mkdtemp(join(tmpdir(), 'oppie-camera-'));
  const file = join(dir, 'qr.y4m');
  try {
    await writeFile(file, qrY4m(text));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    file,
    args: ['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${file}`],
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
