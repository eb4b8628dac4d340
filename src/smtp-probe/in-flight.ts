/**
 * One connection test at a time per server. Without JavaScript nothing disables the button, and a second click
 * would open a second conversation with the server (and a second AUTH): it is answered at once instead. The check
 * and the claim happen in the same turn of the event loop, so two requests can never both start.
 */
export class InFlight {
  private readonly running = new Set<string>();

  /** Runs `work` unless work under the same key is still running; then resolves to null without running it. */
  async exclusive<T>(key: string, work: () => Promise<T>): Promise<T | null> {
    if (this.running.has(key)) return null;
    this.running.add(key);
    try {
      return await work();
    } finally {
      this.running.delete(key);
    }
  }
}
