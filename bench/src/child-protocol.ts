/**
 * The IPC conversation between the bench and a server it runs in a child process (so the server's RSS is its own).
 * The child announces `ready` with its URL, then answers `gc`, `stats` and `close`.
 */

/** Parent -> child. */
export type ChildCommand = { readonly cmd: 'gc' } | { readonly cmd: 'close' };

/** Child -> parent. */
export type ChildMessage =
  | { readonly type: 'ready'; readonly url: string }
  | { readonly type: 'done'; readonly cmd: ChildCommand['cmd']; readonly gc: boolean }
  | { readonly type: 'failed'; readonly message: string };

/**
 * Runs the child side: starts the server, reports `ready`, serves commands until `close` (or the parent goes away).
 *
 * @example
 * await serveChild(async () => startBaselineForwarder());
 */
export async function serveChild(start: () => Promise<{ url: string; close(): Promise<void> }>): Promise<void> {
  const send = (msg: ChildMessage) => process.send?.(msg);
  let server: { url: string; close(): Promise<void> };
  try {
    server = await start();
  } catch (err) {
    send({ type: 'failed', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    process.exit(1);
  }
  const gc = (globalThis as { gc?: () => void }).gc;
  let closing: Promise<void> | undefined;
  const shutdown = () => {
    closing ??= server.close().finally(() => process.exit(0));
    return closing;
  };
  // The parent going away (crash, Ctrl-C) must not leave a server running.
  process.on('disconnect', () => void shutdown());
  process.on('message', (msg: ChildCommand) => {
    if (msg.cmd === 'gc') {
      // Two passes with a turn of the event loop between them let weak callbacks and finalizers run.
      gc?.();
      setTimeout(() => {
        gc?.();
        send({ type: 'done', cmd: 'gc', gc: gc !== undefined });
      }, 50);
    } else if (msg.cmd === 'close') {
      send({ type: 'done', cmd: 'close', gc: gc !== undefined });
      void shutdown();
    }
  });
  send({ type: 'ready', url: server.url });
}
