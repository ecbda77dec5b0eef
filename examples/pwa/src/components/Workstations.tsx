import type { DeviceInfo } from 'oppie-client';
import { useEffect, useState } from 'preact/hooks';
import { useModel } from '../hooks.js';

/** Paired workstations (client.peers(), with presence from client.devices()), each with a confirmed revoke. */
export function Workstations({ onError }: { onError: (err: unknown) => void }) {
  const model = useModel();
  const [devices, setDevices] = useState<readonly DeviceInfo[]>([]);
  const [busy, setBusy] = useState<string | undefined>(undefined);
  const peerCount = model.peers.length;

  useEffect(() => {
    if (peerCount === 0) return;
    let live = true;
    model.client
      .devices()
      .then((list) => {
        if (live) setDevices(list);
      })
      .catch((err: unknown) => console.warn('oppie-pwa: device list unavailable', err));
    return () => {
      live = false;
    };
  }, [model, peerCount]);

  const revoke = async (deviceId: string, name: string) => {
    if (!window.confirm(`Revoke "${name}"? It can no longer reach this phone until you pair it again.`)) return;
    setBusy(deviceId);
    try {
      await model.revoke(deviceId);
    } catch (err) {
      onError(err);
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <section aria-labelledby="ws-title">
      <h2 id="ws-title">Paired workstations</h2>
      {model.peers.length === 0 ? (
        <p class="hint">None yet.</p>
      ) : (
        <ul class="list">
          {model.peers.map((p) => {
            const info = devices.find((d) => d.id === p.deviceId);
            const online = model.online.get(p.deviceId) ?? info?.online;
            // The relay's list has the display name; the SDK's peer record may still hold its placeholder (the role).
            const name = info?.name ?? p.name;
            return (
              <li key={p.deviceId} class="card workstation" data-testid="workstation" data-device-id={p.deviceId}>
                <div>
                  <strong>{name}</strong>{' '}
                  <span class={`badge ${online ? 'state-open' : 'state-idle'}`}>
                    {online === undefined ? 'unknown' : online ? 'online' : 'offline'}
                  </span>
                  <p class="mono small" title={p.deviceId}>
                    {p.deviceId}
                  </p>
                </div>
                <button
                  type="button"
                  class="danger"
                  data-testid="revoke"
                  disabled={busy === p.deviceId}
                  aria-label={`Revoke ${name}`}
                  onClick={() => void revoke(p.deviceId, name)}
                >
                  Revoke
                </button>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
