/** A write refused because another row already holds a unique value; each store maps its driver's code to it. */
export class UniqueViolation extends Error {
  constructor(
    /** The column that must be unique. */
    readonly column: string,
    readonly cause: unknown,
  ) {
    super(`another row already has this ${column}`);
  }
}
