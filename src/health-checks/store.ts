/** What a scheduled check saw of a server's certificate (STARTTLS or implicit TLS), as kept per server. */
export interface SeenCertificate {
  subject: string;
  issuer: string;
  /** null when the certificate gave no date (it always does in practice). */
  validTo: Date | null;
  fingerprint: string | null;
}

/** The certificate kept for a server, with the issuer it had before the current one (an issuer change is flagged). */
export interface KeptCertificate extends SeenCertificate {
  serverId: number;
  seenAt: Date;
  previousIssuer: string | null;
  /** When the last issuer change was seen; null when the issuer never changed. */
  issuerChangedAt: Date | null;
}

/** A server's scheduled check as its row keeps it. */
export interface HealthCheckState {
  serverId: number;
  dueAt: Date;
  lastCheckAt: Date | null;
  /** null before the first check. */
  lastOk: boolean | null;
  certificate: KeptCertificate | null;
}

export interface HealthCheckOutcome {
  at: Date;
  ok: boolean;
  nextDueAt: Date;
  /** null when the check saw none (no TLS, or it failed before the handshake): the last one seen is kept. */
  certificate: SeenCertificate | null;
}

export interface HealthCheckStore {
  /** Gives every active server without a check row its first due time (`dueOf`); rows another instance added stay. */
  scheduleMissing(dueOf: (serverId: number) => Date): Promise<number>;
  /**
   * Atomically takes up to `limit` due checks of active servers whose lease is free or expired, for `owner` until
   * `leaseUntil`: two instances never take the same check. Returns the server ids, soonest due first.
   */
  claim(owner: string, now: Date, leaseUntil: Date, limit: number): Promise<number[]>;
  find(serverId: number): Promise<HealthCheckState | null>;
  /**
   * Writes the check's end: the next due time, the lease freed, the result and the certificate (the previous issuer
   * kept when it changed). Call inside the transaction that records the result on the server.
   */
  complete(serverId: number, outcome: HealthCheckOutcome): Promise<void>;
  /** Gives a check back unfinished (its server vanished, its secret is unreadable): due again at `dueAt`. */
  release(serverId: number, owner: string, dueAt: Date): Promise<void>;
  /** The kept certificates of these servers (those with none are absent). */
  certificatesOf(serverIds: readonly number[]): Promise<Map<number, KeptCertificate>>;
  /** « En panne » until `downUntil`, as the outbox marks a server that failed (its last error kept). */
  markDown(serverId: number, now: Date, error: string, downUntil: Date): Promise<void>;
  /** Back in service: no longer « en panne », its failures in a row forgotten. */
  markUp(serverId: number): Promise<void>;
}
