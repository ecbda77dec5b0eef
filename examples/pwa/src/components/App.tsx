import { useEffect, useRef } from 'preact/hooks';
import { useModel, useRoute } from '../hooks.js';
import { ErrorBanner } from './ErrorBanner.js';
import { Header } from './Header.js';
import { PairScreen } from './PairScreen.js';
import { SettingsScreen } from './SettingsScreen.js';
import { WorkScreen } from './WorkScreen.js';

/** The shell: header, error banner, and the screen of the current route (`#/pair`, `#/work`, `#/settings`). */
export function App() {
  const model = useModel();
  const route = useRoute(model.peers.length === 0 ? 'pair' : 'work');
  const content = useRef<HTMLDivElement>(null);
  const first = useRef(true);

  // After a screen change, move focus to the new screen's heading so keyboard and screen reader users land there.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    if (route === 'approvals') return; // WorkScreen focuses the pending approval instead
    const heading = content.current?.querySelector<HTMLElement>('main h2');
    if (heading === null || heading === undefined) return;
    heading.tabIndex = -1;
    heading.focus();
  }, [route]);
  return (
    <>
      <Header route={route} />
      <ErrorBanner />
      <div id="content" ref={content}>
        {route === 'pair' && <PairScreen />}
        {(route === 'work' || route === 'approvals') && <WorkScreen focusApproval={route === 'approvals'} />}
        {route === 'settings' && <SettingsScreen />}
      </div>
    </>
  );
}
