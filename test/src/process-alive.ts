/**
 * Whether a process with this id still exists: signal 0 checks without sending anything (EPERM: it exists but
 * belongs to another user).
 *
 * @example
 * child.kill('SIGTERM');
 * await expect.poll(() => processAlive(pid)).toBe(false);
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
