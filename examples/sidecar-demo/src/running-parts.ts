/**
 * The parts `npm run demo` has started (relay child, sidecar, dev server), stopped together: each part as soon as
 * it exists, so a signal or a failure during startup stops exactly what is running.
 */
export class RunningParts {
  private readonly parts: Array<{ readonly name: string; readonly stop: () => Promise<void> }> = [];
  private stopping: Promise<string[]> | undefined;

  /**
   * Registers a started part. After {@link stopAll} (it finished starting too late) it is stopped at once, and the
   * returned promise settles when it is.
   *
   * @example
   * const relay = await startRelayChild(opts);
   * parts.add('relay', () => relay.stop());
   */
  add(name: string, stop: () => Promise<void>): Promise<void> {
    if (this.stopping === undefined) {
      this.parts.push({ name, stop });
      return Promise.resolve();
    }
    return stop().catch(() => {});
  }

  /**
   * Stops every registered part at once; one that fails to stop does not keep the others running. Resolves, once all
   * settled, with a line per failure (`name: message`). Safe to call twice.
   */
  stopAll(): Promise<string[]> {
    this.stopping ??= Promise.allSettled(this.parts.map((p) => p.stop())).then((results) =>
      results.flatMap((r, i) =>
        r.status === 'rejected' ? [`${this.parts[i]?.name}: ${(r.reason as Error)?.message ?? String(r.reason)}`] : [],
      ),
    );
    return this.stopping;
  }
}
