import { useEffect, useState } from 'preact/hooks';
import { useModel } from '../hooks.js';
import { disablePush, enablePush, pushEnabled, pushPermission } from '../push.js';

type PushState = 'idle' | 'busy' | 'on';

/**
 * Turns approval notifications on (asks for permission only when clicked) and off. Whether they are on is read from
 * the browser's push subscription, so it survives a reload.
 */
export function PushButton({ onError }: { onError: (err: unknown) => void }) {
  const model = useModel();
  const [state, setState] = useState<PushState>('idle');
  const [busyText, setBusyText] = useState('Enabling…');
  const permission = pushPermission();

  useEffect(() => {
    let live = true;
    pushEnabled()
      .then((on) => {
        if (live && on) setState((s) => (s === 'idle' ? 'on' : s));
      })
      .catch((err: unknown) => console.warn('oppie-pwa: could not read the push subscription', err));
    return () => {
      live = false;
    };
  }, []);

  if (permission === 'unsupported') return <p class="hint">This browser cannot receive notifications.</p>;

  const run = async (action: () => Promise<void>, label: string, after: PushState, before: PushState) => {
    setBusyText(label);
    setState('busy');
    try {
      await action();
      setState(after);
    } catch (err) {
      setState(before);
      onError(err);
    }
  };

  return (
    <>
      <button
        type="button"
        class="secondary"
        data-testid="push-enable"
        data-state={state}
        disabled={state !== 'idle' || model.peers.length === 0}
        onClick={() => void run(() => enablePush(model.client), 'Enabling…', 'on', 'idle')}
      >
        {state === 'on' ? 'Notifications on' : state === 'busy' ? busyText : 'Enable approval notifications'}
      </button>
      {state === 'on' && (
        <button
          type="button"
          class="secondary"
          data-testid="push-disable"
          onClick={() => void run(() => disablePush(model.client), 'Turning off…', 'idle', 'on')}
        >
          Turn notifications off
        </button>
      )}
    </>
  );
}
