import type { ConfirmationStatus } from '../confirmation/store.js';
import type { SortableColumn, SortDirection } from './columns.js';
import type { ConfirmationFilter, SecurityFilter, TestFilter } from './search.js';
import type { Authentication, Security, Usage } from './validation.js';

/** What selects and orders the servers of the list and of the exports. */
export interface ServerListFilter {
  q?: string;
  confirmation?: ConfirmationFilter | '';
  test?: TestFilter | '';
  security?: SecurityFilter | '';
  sort?: SortableColumn;
  dir?: SortDirection;
}


export type { Department, DepartmentStore } from '../departments/store.js';

export interface ServerDepartment {
  code: string;
  name: string;
}

/** What a form writes to a server's row, with the keys the store indexes (computed by the service). */
export interface ServerColumns {
  title: string;
  /** The title folded to lower case: unique, so "Vente" and "VENTE" cannot both exist. */
  titleKey: string;
  titleSort: string;
  host: string;
  port: number;
  security: Security;
  authentication: Authentication;
  email: string;
  senderName: string;
  username: string;
  usage: Usage;
  verifyCertificate: boolean;
  signature: string;
  /** Messages per minute the outbox may hand it, across instances; null or left out: no limit. */
  rateLimitPerMinute?: number | null;
  /** OAuth2: the Microsoft tenant; '' otherwise (the default). */
  oauthTenant?: string;
  /** OAuth2: the Microsoft application id or the Google service account's address; '' otherwise (the default). */
  oauthClientId?: string;
  /** Lower-cased, accent-free copy of the searchable fields. */
  searchText: string;
}

/** The state columns a form does not write: the confirmation and the last connection test. */
export interface ServerState {
  confirmationStatus: ConfirmationStatus;
  confirmationSentAt: Date | null;
  confirmationExpiresAt: Date | null;
  confirmedAt: Date | null;
  confirmationError: string | null;
  lastTestAt: Date | null;
  lastTestOk: boolean | null;
  lastTestSummary: string | null;
  /** A deactivated server is kept and shown, never used to send. */
  active: boolean;
  /** « En panne » until then (set by the sending outbox): skipped by the departments' routing while it lasts. */
  downUntil: Date | null;
  /** Sending failures in a row (the outbox's), the last success and the last error, kept on the row and shown. */
  consecutiveFailures: number;
  lastSuccessAt: Date | null;
  lastErrorAt: Date | null;
  lastError: string | null;
}

/** A server's row as stored: the password only as its encrypted envelope. */
export interface StoredServer extends Omit<ServerColumns, 'titleKey' | 'titleSort' | 'searchText'>, ServerState {
  id: number;
  oauthTenant: string;
  oauthClientId: string;
  /** AES-256-GCM envelope "v1:<keyId>:…", never the plaintext. */
  passwordCiphertext: string | null;
  /** The OAuth2 client secret or service account key, sealed like the password; never the plaintext. */
  oauthSecretCiphertext: string | null;
  /** Incremented by every update: a write based on an older reading is refused by comparing it. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
  /** The departments the server is linked to, in their display order. */
  departments: ServerDepartment[];
}

/** An update of a server's row; fields left out keep their value. The store adds one to its version. */
export type ServerChanges = Partial<ServerColumns & ServerState & { passwordCiphertext: string | null; oauthSecretCiphertext: string | null }>;

export type UpdateOutcome = 'updated' | 'stale' | 'missing';

export interface ListedPage {
  rows: ListedServer[];
  /** The number of matches when `exact`; otherwise there are more than this many. */
  total: number;
  exact: boolean;
  page: number;
  /** When not `exact`, more than this many. */
  pages: number;
  perPage: number;
}

// A count stops this far past the page shown: a search matching thousands of servers says « plus de 1000 » rather
// than reading every match at each view (the page itself reads 50 rows; the exact count read them all).
const countStep = 1000;

/**
 * How many matches a count for this page reads at most: a multiple of 1,000 past the page's last row, or Infinity for
 * the whole list (no search word, no filter), which is always counted in full.
 */
export function countLimitOf(filter: ServerListFilter, searchWords: number, page: number, perPage: number): number {
  if (searchWords === 0 && !filter.confirmation && !filter.test && !filter.security) return Infinity;
  return countStep * Math.ceil((Math.max(1, page) * perPage + 1) / countStep);
}

/** The page numbers from a count read up to `limit` + 1 (`countLimitOf`; Infinity for a count read in full). */
export function pageNumbersOf(counted: number, limit: number, page: number, perPage: number) {
  if (counted > limit) return { total: limit, exact: false, page: Math.max(1, page), pages: Math.floor(limit / perPage), perPage };
  const pages = Math.max(1, Math.ceil(counted / perPage));
  return { total: counted, exact: true, page: Math.min(Math.max(1, page), pages), pages, perPage };
}

/** The columns the exports read: the list's, nothing about the password or the bookkeeping. */
export const exportedFields = [
  'id',
  'title',
  'host',
  'port',
  'security',
  'authentication',
  'email',
  'senderName',
  'username',
  'usage',
  'confirmationStatus',
  'confirmationSentAt',
  'confirmationExpiresAt',
  'confirmedAt',
  'confirmationError',
  'lastTestAt',
  'lastTestOk',
] as const satisfies readonly (keyof StoredServer)[];

/** What the list page reads: the exported columns and whether the server is active (each column read costs). */
export const listedFields = [...exportedFields, 'active'] as const;

/** A row of the list page: its columns, the password's two flags, the departments served. */
export type ListedServer = Pick<StoredServer, (typeof listedFields)[number] | 'departments'> & { hasPassword: boolean; passwordUnreadable: boolean };

/** What the exports read of a server, with the departments it serves. */
export type ExportedServer = Pick<StoredServer, (typeof exportedFields)[number] | 'departments'>;

/** A consistent, read-only view of the registry for a long read (an export); close it when done. */
export interface ServerSnapshot {
  /** Every matching server in display order, a batch at a time; leaving the loop early stops the cursor. */
  batches(filter?: ServerListFilter, batchSize?: number): AsyncGenerator<ExportedServer[]>;
  close(): void;
}

/**
 * The servers' rows and their departments. The rules (what an edit resets, the audit, encryption, unique titles in
 * words) are the service's (repository.ts). A write whose title is taken throws UniqueViolation (src/db/errors.ts).
 */
export interface ServerStore {
  find(id: number): Promise<StoredServer | null>;
  /** Whether another server (not `exceptId`) has this title key. */
  titleKeyTaken(titleKey: string, exceptId?: number): Promise<boolean>;
  insert(row: ServerColumns & { passwordCiphertext: string | null; oauthSecretCiphertext?: string | null }): Promise<number>;
  /** Applies the changes and adds one to the version, only if the row is still at `expectedVersion` (when given). */
  update(id: number, changes: ServerChanges, expectedVersion?: number): Promise<UpdateOutcome>;
  /** Links the server to exactly these departments. */
  setDepartments(serverId: number, departmentIds: number[]): Promise<void>;
  /** true when it existed. Its links to departments and its confirmation links go with it. */
  delete(id: number): Promise<boolean>;
  /** One page of the list in display order, with the exact count; `keyIds` are the keys that open a stored password. */
  page(filter: ServerListFilter, page: number, perPage: number, keyIds: readonly string[]): Promise<ListedPage>;
  /** Opens a consistent snapshot for an export. */
  openSnapshot(): ServerSnapshot;
  /** Rows written before the sort key existed (migration 0004): their id and title. */
  missingSortKeys(): Promise<{ id: number; title: string }[]>;
  /** Writes a sort key left empty (a backfill: not an edit, the version stays). */
  setSortKey(id: number, titleSort: string): Promise<void>;
  /** Rewrites the search text after a department it names changed (not an edit of the server: the version stays). */
  setSearchText(id: number, searchText: string): Promise<void>;
  /** Every stored password envelope, for the rotation of keys. */
  passwordEnvelopes(): Promise<{ id: number; envelope: string }[]>;
  /** Replaces an envelope by another of the same password (a key rotation: not an edit, the version stays). */
  replaceEnvelope(id: number, envelope: string): Promise<void>;
  /** How many stored passwords were sealed by none of these keys (by the key id their envelope names). */
  countSealedByNoneOf(keyIds: readonly string[]): Promise<number>;
  /** Every stored OAuth2 secret envelope (client secrets, service account keys), for the rotation of keys. */
  oauthSecretEnvelopes(): Promise<{ id: number; envelope: string }[]>;
  /** Replaces an OAuth2 secret's envelope by another of the same secret (a key rotation: the version stays). */
  replaceOauthSecretEnvelope(id: number, envelope: string): Promise<void>;
  /** How many stored OAuth2 secrets were sealed by none of these keys. */
  countOauthSecretsSealedByNoneOf(keyIds: readonly string[]): Promise<number>;
}
