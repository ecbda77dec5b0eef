import { useState } from 'preact/hooks';
import { useModel } from '../hooks.js';
import { enablePush, pushPermission } from '../push.js';

/** Turns on approval notifications (asks for permission only when clicked). */
export function PushButton({ onError }: { onError: (err: unknown) => void }) {
  const model = useModel();
  const [state, setState] = useState<'idle' | 'busy' | 'on'>('idle');
  const permission = pushPermission();
  if (permission === 'unsupported') return <p class="hint">This browser cannot receive notifications.</p>;
  return (
    <button
      type="button"
      class="secondary"
      data-testid="push-enable"
      data-state={state}
      disabled={state !== 'idle' || model.peers.length === 0}
      onClick={async () => {
        setState('busy');
        try {
          await enablePush(model.client);
          setState('on');
        } catch (err) {
          setState('idle');
          onError(err);
        }
      }}
    >
      {state === 'on' ? 'Notifications on' : state === 'busy' ? 'Enabling…' : 'Enable approval notifications'}
    </button>
  );
}
