import { navigate, type Route, useModel } from '../hooks.js';

const TABS: readonly { route: Route; label: string }[] = [
  { route: 'pair', label: 'Pair' },
  { route: 'work', label: 'Work' },
  { route: 'settings', label: 'Settings' },
];

/** Always visible: the connection state, the path to the workstation, and the navigation. */
export function Header({ route }: { route: Route }) {
  const model = useModel();
  const current = route === 'approvals' ? 'work' : route;
  return (
    <header class="app-header">
      <div class="status-row">
        <h1 class="brand">Oppie</h1>
        <p class="status" aria-live="polite">
          <span class="visually-hidden">Connection: </span>
          <span class={`badge state-${model.state}`} data-testid="conn-state">
            {model.state}
          </span>
          <span class="visually-hidden"> Path to workstation: </span>
          <span class={`badge path-${model.path}`} data-testid="path" title="Path to the workstation">
            {model.path}
          </span>
        </p>
      </div>
      <nav aria-label="Screens">
        <ul class="tabs">
          {TABS.map((t) => (
            <li key={t.route}>
              <button
                type="button"
                data-testid={`nav-${t.route}`}
                aria-current={current === t.route ? 'page' : undefined}
                onClick={() => navigate(t.route)}
              >
                {t.label}
              </button>
            </li>
          ))}
        </ul>
      </nav>
    </header>
  );
}
