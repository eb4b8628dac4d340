/**
 * Refusals worth one audit entry and one log line per window, not one per request: a flood of refused sign-ins would
 * otherwise write the audit trail as fast as it is sent. The first refusal of a key in a window is reported, the
 * others are counted, and that count travels with the next report of the key. Kept in memory (each instance reports
 * its own), bounded, so keys sent by an attacker cannot grow it without end.
 */
export function createRefusalLog(windowMs: number, maxKeys = 10_000) {
  const windows = new Map<string, { startedAt: number; repeated: number }>();

  function forgetExpired(now: number) {
    for (const [key, entry] of windows) if (now - entry.startedAt >= windowMs) windows.delete(key);
    // Still full of live keys: the oldest go first (a Map iterates in insertion order).
    for (const key of windows.keys()) {
      if (windows.size < maxKeys) break;
      windows.delete(key);
    }
  }

  return {
    /** `report` for the first refusal of this key in the window, with how many went unreported before it. */
    note(key: string, now = Date.now()): { report: true; unreported: number } | { report: false } {
      const entry = windows.get(key);
      if (entry && now - entry.startedAt < windowMs) {
        entry.repeated++;
        return { report: false };
      }
      if (!entry && windows.size >= maxKeys) forgetExpired(now);
      windows.delete(key);
      windows.set(key, { startedAt: now, repeated: 0 });
      return { report: true, unreported: entry?.repeated ?? 0 };
    },
  };
}

export type RefusalLog = ReturnType<typeof createRefusalLog>;
