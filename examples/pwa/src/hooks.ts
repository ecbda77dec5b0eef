/** Preact glue: the model in a context, a re-render on every model change, and the hash route. */
import { createContext } from 'preact';
import { useContext, useEffect, useState } from 'preact/hooks';
import type { AppModel } from './model.js';

export const ModelContext = createContext<AppModel | undefined>(undefined);

/** The app model; the calling component re-renders whenever the model changes. */
export function useModel(): AppModel {
  const model = useContext(ModelContext);
  if (model === undefined) throw new Error('useModel outside <ModelContext.Provider>');
  const [, setVersion] = useState(0);
  useEffect(() => model.subscribe(() => setVersion((n) => n + 1)), [model]);
  return model;
}

export type Route = 'pair' | 'work' | 'settings' | 'approvals';

function parseRoute(hash: string): Route | undefined {
  const name = hash.replace(/^#\/?/, '').split(/[/?]/)[0];
  return name === 'pair' || name === 'work' || name === 'settings' || name === 'approvals' ? name : undefined;
}

/**
 * The route from `location.hash` (`#/work`). Without one, `fallback` as it was on the first render: the screen must
 * not change under the user when, say, pairing completes on the pair screen.
 */
export function useRoute(fallback: Route): Route {
  const [initial] = useState(fallback);
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash));
    window.addEventListener('hashchange', onHash);
    return () => window.removeEventListener('hashchange', onHash);
  }, []);
  return route ?? initial;
}

export function navigate(route: Route): void {
  location.hash = `#/${route}`;
}
