/** The server a link confirms, as the pages name it. */
export interface ConfirmedServer {
  id: number;
  title: string;
  email: string;
  host: string;
  port: number;
}

/** One link sent; only the SHA-256 of its secret is kept. */
export interface ConfirmationToken {
  id: number;
  serverId: number;
  tokenHash: string;
  createdAt: Date;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

export type ConfirmationStatus = 'unconfirmed' | 'pending' | 'confirmed' | 'failed';

/** The confirmation columns of a server's row, written together. */
export interface ServerConfirmation {
  status: ConfirmationStatus;
  sentAt: Date | null;
  expiresAt: Date | null;
  confirmedAt: Date | null;
  /** A stored diagnosis (JSON of key, params, reply), translated when shown. */
  error: string | null;
}

/** Whose links a throttle window counts: one server's, or those sent to one address by any server (ignoring case). */
export type IssuedScope = { serverId: number } | { email: string };

/**
 * Confirmation links and the confirmation state of servers. The rules (throttle, single use, an edit outrunning a
 * send) are the service's (repository.ts); the holds below make them safe with several requests or instances at once.
 */
export interface ConfirmationStore {
  /**
   * The server, held until the transaction ends: an edit of it waits, or went first and is seen (PostgreSQL: its row
   * locked; SQLite: the transaction already holds the file). Every path that changes a server's confirmation takes
   * this first, so that they all lock in the same order. null when the server no longer exists.
   */
  holdServer(serverId: number): Promise<ConfirmedServer | null>;
  /** Until the transaction ends, no other transaction passes this call for the same address (ignoring case). */
  holdRecipient(email: string): Promise<void>;
  /** When the links of the scope issued after `since` were created, oldest first. */
  issuedSince(scope: IssuedScope, since: Date): Promise<Date[]>;
  /** Voids the server's links still open (neither used nor revoked); how many. An edit of the path calls it after writing the server's row. */
  revokeOpen(serverId: number, at: Date): Promise<number>;
  insert(token: { serverId: number; tokenHash: string; createdAt: Date; expiresAt: Date }): Promise<number>;
  find(tokenId: number): Promise<ConfirmationToken | null>;
  findByHash(tokenHash: string): Promise<{ token: ConfirmationToken; server: ConfirmedServer } | null>;
  /** Spends the link if it is still open and not expired at `at`; true only for the one call that spent it. */
  use(tokenId: number, at: Date): Promise<boolean>;
  /** Voids the link unless it already was; true when this call voided it. */
  revoke(tokenId: number, at: Date): Promise<boolean>;
  /** Writes the columns given, leaves the others. */
  setServerConfirmation(serverId: number, state: Partial<ServerConfirmation>): Promise<void>;
  confirmationOf(serverId: number): Promise<ServerConfirmation | null>;
  /** Every link of the server, oldest first. */
  tokensOf(serverId: number): Promise<ConfirmationToken[]>;
}

/** The smtp_servers columns a confirmation state is written to, the same on both stores; a field left out is undefined, which drizzle's update skips. */
export function confirmationRowOf(state: Partial<ServerConfirmation>) {
  return {
    confirmationStatus: state.status,
    confirmationSentAt: state.sentAt,
    confirmationExpiresAt: state.expiresAt,
    confirmedAt: state.confirmedAt,
    confirmationError: state.error,
  };
}

type ServerTable = Record<'id' | 'title' | 'email' | 'host' | 'port', unknown> &
  Record<'confirmationStatus' | 'confirmationSentAt' | 'confirmationExpiresAt' | 'confirmedAt' | 'confirmationError', unknown>;

/** What each store selects from its dialect's smtp_servers table: the server a link names, and its confirmation state. */
export function confirmationSelections<T extends ServerTable>(
  table: T,
): {
  server: { [K in 'id' | 'title' | 'email' | 'host' | 'port']: T[K] };
  state: { status: T['confirmationStatus']; sentAt: T['confirmationSentAt']; expiresAt: T['confirmationExpiresAt']; confirmedAt: T['confirmedAt']; error: T['confirmationError'] };
} {
  return {
    server: { id: table.id, title: table.title, email: table.email, host: table.host, port: table.port },
    state: {
      status: table.confirmationStatus,
      sentAt: table.confirmationSentAt,
      expiresAt: table.confirmationExpiresAt,
      confirmedAt: table.confirmedAt,
      error: table.confirmationError,
    },
  };
}
