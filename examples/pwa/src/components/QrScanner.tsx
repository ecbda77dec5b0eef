import { useEffect, useRef, useState } from 'preact/hooks';

type Decode = typeof import('jsqr')['default'];

/** jsQR (~130 KiB) loads only when the camera opens. It is CommonJS: the function may sit under `default`. */
async function loadDecoder(): Promise<Decode> {
  const mod = (await import('jsqr')) as unknown as { default: Decode | { default: Decode } };
  return typeof mod.default === 'function' ? mod.default : mod.default.default;
}

/**
 * Camera QR scanner: getUserMedia video, drawn to a canvas and decoded with jsQR once per animation frame. The camera
 * stops on the first hit, on cancel and when the component unmounts (leaving the screen).
 */
export function QrScanner({ onResult, onClose }: { onResult: (text: string) => void; onClose: () => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string | undefined>(undefined);

  useEffect(() => {
    let stream: MediaStream | undefined;
    let frame = 0;
    let stopped = false;
    let jsQR: Decode | undefined;
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    const stop = () => {
      stopped = true;
      cancelAnimationFrame(frame);
      for (const track of stream?.getTracks() ?? []) track.stop();
    };
    const tick = () => {
      if (stopped) return;
      const v = video.current;
      if (jsQR !== undefined && v !== null && ctx !== null && v.readyState >= v.HAVE_CURRENT_DATA && v.videoWidth > 0) {
        canvas.width = v.videoWidth;
        canvas.height = v.videoHeight;
        ctx.drawImage(v, 0, 0);
        const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
        const hit = jsQR(image.data, image.width, image.height, { inversionAttempts: 'dontInvert' });
        if (hit !== null && hit.data !== '') {
          stop();
          onResult(hit.data);
          return;
        }
      }
      frame = requestAnimationFrame(tick);
    };
    if (navigator.mediaDevices?.getUserMedia === undefined) {
      setError('This browser has no camera access here (it needs HTTPS). Paste the link instead.');
      return stop;
    }
    loadDecoder()
      .then((decode) => {
        jsQR = decode;
        return navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
      })
      .then((s) => {
        stream = s;
        if (stopped) return stop();
        const v = video.current;
        if (v === null) return stop();
        v.srcObject = s;
        return v.play().then(() => {
          frame = requestAnimationFrame(tick);
        });
      })
      .catch((err: unknown) => {
        stop();
        const name = err instanceof DOMException ? err.name : '';
        setError(
          name === 'NotAllowedError'
            ? 'Camera permission was denied. Allow the camera in the browser settings, or paste the link instead.'
            : name === 'NotFoundError' || name === 'OverconstrainedError'
              ? 'No camera found. Paste the link instead.'
              : `The camera could not start (${name || String(err)}). Paste the link instead.`,
        );
      });
    return stop;
  }, [onResult]);

  return (
    <section class="scanner" aria-label="Scan the pairing QR code">
      {error === undefined ? (
        <video ref={video} class="scanner-video" muted playsInline aria-label="Camera preview" />
      ) : (
        <p class="notice" role="alert" data-testid="scan-error">
          {error}
        </p>
      )}
      <button type="button" class="secondary" onClick={onClose}>
        Close camera
      </button>
    </section>
  );
}
