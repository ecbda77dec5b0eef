/**
 * Entry: opens the SDK client (identity, pairings, outbox and inbox in IndexedDB), wires the browser lifecycle, and
 * renders the app. A PWA never registers an account: it joins the sidecar's account by pairing, and connects on
 * every later start. `window.oppie.client` is exposed for tests.
 */
import { attachBrowserLifecycle, browserPlatform, OppieClient } from 'oppie-client';
import { render } from 'preact';
import { App } from './components/App.js';
import { messageOf } from './errors.js';
import { ModelContext } from './hooks.js';
import { AppModel } from './model.js';
import { refreshPush } from './push.js';
import { registerServiceWorker } from './sw-register.js';
import './styles.css';

declare global {
  interface Window {
    oppie?: { client: OppieClient; model: AppModel };
  }
}

const DB_NAME = 'oppie-pwa';

function deviceName(): string {
  const ua = navigator.userAgent;
  const os = /Android/.test(ua)
    ? 'Android'
    : /iPhone|iPad/.test(ua)
      ? 'iOS'
      : /Mac OS X/.test(ua)
        ? 'macOS'
        : /Windows/.test(ua)
          ? 'Windows'
          : /Linux/.test(ua)
            ? 'Linux'
            : 'browser';
  return `Oppie PWA (${os})`;
}

async function boot(root: HTMLElement): Promise<void> {
  const client = await OppieClient.create({
    relayUrl: location.origin,
    role: 'pwa',
    name: deviceName(),
    platform: browserPlatform({ dbName: DB_NAME }),
  });
  const model = new AppModel(client);
  window.oppie = { client, model };
  attachBrowserLifecycle(client);
  model.start();
  // Notifications on: check the subscription against the relay's current VAPID key (docs/operations.md, rotation).
  if (model.peers.length > 0)
    refreshPush(client).catch((err: unknown) => console.warn('oppie-pwa: could not refresh push', err));
  root.textContent = ''; // the static "Starting Oppie…" placeholder
  render(
    <ModelContext.Provider value={model}>
      <App />
    </ModelContext.Provider>,
    root,
  );
}

const root = document.getElementById('app');
if (root !== null) {
  registerServiceWorker();
  boot(root).catch((err: unknown) => {
    console.error('oppie-pwa: could not start', err);
    const code = (err as { code?: unknown } | null)?.code;
    root.textContent = '';
    render(
      <main class="screen">
        <div
          class="error-banner"
          role="alert"
          data-testid="error"
          data-code={typeof code === 'string' ? code : 'APP_ERR_UNKNOWN'}
        >
          <p>Oppie could not start: {messageOf(err)}</p>
        </div>
      </main>,
      root,
    );
  });
}
