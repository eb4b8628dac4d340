/**
 * Each server's own place in the interval, from its id (the golden ratio spreads consecutive ids evenly), so the
 * checks of many servers do not all start at once, and every instance computes the same times.
 */
export function offsetOf(serverId: number, intervalMs: number): number {
  const fraction = (serverId * 0.6180339887498949) % 1;
  return Math.floor(fraction * intervalMs);
}

/** The server's next slot strictly after `after`: its offset plus a whole number of intervals. */
export function nextSlotAfter(serverId: number, after: Date, intervalMs: number): Date {
  const offset = offsetOf(serverId, intervalMs);
  const k = Math.floor((after.getTime() - offset) / intervalMs) + 1;
  return new Date(offset + k * intervalMs);
}
