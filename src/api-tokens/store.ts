// API tokens as the stores see them: the rules (hashing, scopes, the rate limit's window) are in service.ts.

export interface ApiTokenRow {
  id: number;
  name: string;
  hint: string;
  allDepartments: boolean;
  /** Codes of the departments it may send for (empty when allDepartments). */
  departments: string[];
  createdAt: Date;
  createdBy: number | null;
  createdByName: string | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface NewApiToken {
  name: string;
  tokenHash: string;
  hint: string;
  allDepartments: boolean;
  departmentIds: readonly number[];
  createdAt: Date;
  createdBy: number | null;
}

export interface ApiTokenStore {
  insert(token: NewApiToken): Promise<number>;
  /** Newest first, revoked ones included. */
  list(): Promise<ApiTokenRow[]>;
  find(id: number): Promise<ApiTokenRow | null>;
  findByHash(tokenHash: string): Promise<ApiTokenRow | null>;
  /** false when it was already revoked (or does not exist). */
  revoke(id: number, at: Date): Promise<boolean>;
  /** Sets the last use unless one at or after `notBefore` is already recorded (another instance wrote it lately). */
  touch(id: number, at: Date, notBefore: Date): Promise<void>;
  /**
   * Counts `requests` requests (reserved by one instance at once) in the token's window starting at windowStart,
   * atomically (concurrent reservations from every instance each get their own count), and returns the count including
   * these. Older windows are dropped.
   */
  countRequest(id: number, windowStart: Date, requests: number): Promise<number>;
}
