/**
 * Network-namespace primitives shared by the NAT lab of the direct-path tests and the shaped-link bench: run `ip`
 * with its stderr in the error, list, delete (with whatever still runs inside) and sweep the namespaces of processes
 * that died before cleaning up. Namespaces made with these are named `oppie-<pid>-...`, the pid telling stale ones.
 */
import { execFileSync } from 'node:child_process';
import { processAlive } from './process-alive.js';

/** `oppie-<pid>-...`: the pid of the process that made it, so stale ones (dead pid) can be removed. */
const OWNED = /^oppie-(\d+)-/;
const CMD_TIMEOUT_MS = 10_000;

/** What a failed `execFileSync` says: its stderr when it wrote one, else its message. */
export function commandErrorText(err: unknown): string {
  const e = err as { message?: string; stderr?: Buffer | string };
  const stderr = e.stderr === undefined ? '' : String(e.stderr).trim();
  return stderr !== '' ? stderr : String(e.message ?? err);
}

/**
 * Runs a command on the machine (not in a namespace); returns stdout, throws with the command and its stderr.
 *
 * @example
 * runCommand('ip', ['netns', 'add', `oppie-${process.pid}-lab`]);
 */
export function runCommand(cmd: string, args: readonly string[], timeoutMs = CMD_TIMEOUT_MS): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
  } catch (err) {
    throw new Error(`${cmd} ${args.join(' ')} failed: ${commandErrorText(err)}`);
  }
}

/** The machine's network namespaces by name. */
export function listNamespaces(): string[] {
  // Lines look like `name (id: 3)` or just `name`.
  return runCommand('ip', ['netns', 'list'])
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n !== '');
}

/** SIGKILLs every process still inside a namespace (deleting a namespace does not end its processes). */
function killNamespacePids(ns: string): void {
  let out = '';
  try {
    out = runCommand('ip', ['netns', 'pids', ns]);
  } catch {
    return;
  }
  for (const p of out.split(/\s+/).filter((s) => /^\d+$/.test(s))) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Deletes a namespace after killing what runs in it; one already gone is no error.
 *
 * @example
 * deleteNamespace(`oppie-${process.pid}-lab`);
 */
export function deleteNamespace(ns: string): void {
  killNamespacePids(ns);
  try {
    runCommand('ip', ['netns', 'del', ns]);
  } catch (err) {
    if (!listNamespaces().includes(ns)) return; // already gone
    throw err;
  }
}

/**
 * Best effort: removes `oppie-<pid>-*` namespaces left behind by processes that no longer exist; returns their names.
 *
 * @example
 * removeStaleNamespaces(); // before making new ones
 */
export function removeStaleNamespaces(): string[] {
  const removed: string[] = [];
  let names: string[] = [];
  try {
    names = listNamespaces();
  } catch {
    return removed;
  }
  for (const ns of names) {
    const m = OWNED.exec(ns);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processAlive(pid)) continue;
    try {
      deleteNamespace(ns);
      removed.push(ns);
    } catch {
      // best effort: another run may be removing it right now
    }
  }
  return removed;
}
