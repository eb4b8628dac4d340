// How a store's failures are named, for the forms, /healthz and the start-up line; each store maps its driver's errors.

/** Why a write did not land, in terms a form can tell the user; each store maps its own error codes to these. */
export type StoreWriteFailure = 'diskFull' | 'other';

/** A write the store refused for reasons of its own (disk full, read-only file, I/O error), not because of the data. */
export class StoreWriteError extends Error {
  readonly code = 'RELAIS_STORE_WRITE';
  readonly statusCode = 503;
  constructor(
    readonly reason: StoreWriteFailure,
    readonly cause: unknown,
  ) {
    super(reason === 'diskFull' ? 'the database could not grow: disk (or database size limit) full' : `the database refused a write: ${String((cause as Error)?.message ?? cause)}`);
  }
}

type WriteErrorMapper = (err: unknown) => StoreWriteError | null;
const writeErrorMappers: WriteErrorMapper[] = [];

/** Each store teaches this module how its driver says that a write could not land. */
export function recogniseWriteErrors(mapper: WriteErrorMapper): void {
  writeErrorMappers.push(mapper);
}

/** The StoreWriteError an error means, or null when it is not the store failing (a bug, a constraint the code handles). */
export function storeWriteErrorOf(err: unknown): StoreWriteError | null {
  if (err instanceof StoreWriteError) return err;
  for (const mapper of writeErrorMappers) {
    const failure = mapper(err);
    if (failure) return failure;
  }
  return null;
}

/** The database does not answer (PostgreSQL down or out of reach): nothing was read or written; it may come back. */
export class StoreUnavailableError extends Error {
  readonly code = 'RELAIS_STORE_UNAVAILABLE';
  readonly statusCode = 503;
  constructor(readonly cause: unknown) {
    super(`the database does not answer: ${String((cause as Error)?.message ?? cause)}`);
  }
}

/** The database file could not be opened or migrated at start; says which file and why in one line. */
export class DatabaseOpenError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`cannot open the database ${file}: ${reason}`);
  }
}
