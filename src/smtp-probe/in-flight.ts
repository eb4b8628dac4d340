/**
 * One connection test at a time per server. Without JavaScript nothing disables the button, and a second click
 * would open a second conversation with the server (and a second AUTH). The check and the claim happen in the same
 * turn of the event loop, so two requests can never both start.
 */
export class InFlight {
  private readonly running = new Map<string, Promise<unknown>>();

  /** Runs `work` unless work under the same key is still running; then resolves to null without running it. */
  async exclusive<T>(key: string, work: () => Promise<T>): Promise<T | null> {
    if (this.running.has(key)) return null;
    const run = work();
    this.running.set(key, run);
    try {
      return await run;
    } finally {
      this.running.delete(key);
    }
  }

  /** Resolves once the work running under this key (if any) has ended, however it ended. */
  async settled(key: string): Promise<void> {
    await this.running.get(key)?.catch(() => {});
  }
}
