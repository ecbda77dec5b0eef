/**
 * A full GC in another Node process, for RSS readings that are not at the mercy of when V8 last collected: the relay
 * processes run with `--inspect=127.0.0.1:0` (NODE_OPTIONS), print their inspector URL, and this sends
 * `HeapProfiler.collectGarbage` over it (the Chrome DevTools protocol), as `--expose-gc`'s `gc()` would in-process.
 */
import WebSocket from 'ws';

const LISTENING = /Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/[0-9a-f-]+)/g;

/** The last inspector URL a process printed, if any. */
export function inspectorUrl(output: string): string | undefined {
  return [...output.matchAll(LISTENING)].at(-1)?.[1];
}

/**
 * Runs a full GC in the process whose inspector listens on `url`; resolves true once it finished, false when it could
 * not (no inspector, a refused connection, `timeoutMs` passed). Never throws.
 *
 * @example
 * await collectGarbage(inspectorUrl(relay.output()));
 */
export function collectGarbage(url: string | undefined, timeoutMs = 10_000): Promise<boolean> {
  if (url === undefined) return Promise.resolve(false);
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { handshakeTimeout: timeoutMs });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      ws.removeAllListeners();
      ws.on('error', () => {});
      ws.terminate();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    ws.on('error', () => done(false));
    ws.on('close', () => done(false));
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
    ws.on('message', (data: Buffer) => {
      const reply = JSON.parse(data.toString()) as { id?: number; error?: unknown };
      if (reply.id === 1) done(reply.error === undefined);
    });
  });
}
