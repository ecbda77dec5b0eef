/**
 * An init script for the PWA page: records every `progress` and `chat` message the SDK hands to the app, and the
 * connection's state changes, in
 * sessionStorage so the record survives a reload of the tab. It hooks `window.oppie` (set by the app before its
 * client connects), so nothing is missed.
 */
export const RECORD_KEY = 'oppie-test/received';

export const recordScript = `(() => {
  const KEY = ${JSON.stringify(RECORD_KEY)};
  let value;
  Object.defineProperty(window, 'oppie', {
    configurable: true,
    get() { return value; },
    set(v) {
      value = v;
      const add = (entry) => {
        const all = JSON.parse(sessionStorage.getItem(KEY) || '[]');
        all.push(entry);
        sessionStorage.setItem(KEY, JSON.stringify(all));
      };
      v.client.events.on('message', (m) => {
        if (m.type !== 'progress' && m.type !== 'chat') return;
        add({ id: m.id, type: m.type, redelivered: m.redelivered === true, payload: m.payload });
      });
      v.client.events.on('state', (s) => add({ type: 'state', to: s.to, at: Date.now() }));
    },
  });
})();`;

/** One recorded message. */
export type Recorded =
  | {
      readonly type: 'progress' | 'chat';
      readonly id: string;
      readonly redelivered: boolean;
      readonly payload: { planId?: string; step?: number; total?: number; status?: string; text?: string };
    }
  | { readonly type: 'state'; readonly to: string; readonly at: number };

/** The page expression that reads the record. */
export const readRecord = `JSON.parse(sessionStorage.getItem(${JSON.stringify(RECORD_KEY)}) || '[]')`;
