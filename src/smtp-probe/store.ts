/** The last connection test of a saved server, as its row keeps it for the list and the test page. */
export interface ProbeResult {
  at: Date;
  ok: boolean;
  /** The whole report, as JSON. */
  report: string;
}

export interface ProbeResultStore {
  /**
   * Stamps the result on the server only if its row is still the one tested (compare-and-set on `testedVersion`, the
   * server's row version read before the test): an edit meanwhile means the result speaks of other settings. true when
   * stamped. Not an edit: the version stays.
   */
  recordOnServer(serverId: number, result: ProbeResult, testedVersion: number): Promise<boolean>;
  lastOf(serverId: number): Promise<ProbeResult | null>;
}

/** A row's last-test columns as a result, or null when the server was never tested (or the test was cleared by an edit). */
export function probeResultOf(row: { at: Date | null; ok: boolean | null; report: string | null } | undefined): ProbeResult | null {
  return row?.at && row.ok !== null && row.report !== null ? { at: row.at, ok: row.ok, report: row.report } : null;
}
