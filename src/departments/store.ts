import type { ConfirmationStatus } from '../confirmation/store.js';

export interface Department {
  id: number;
  /** Never changes: the API and the links name a department by it. */
  code: string;
  name: string;
  position: number;
  active: boolean;
}

/** A server that serves a department (default usage, or custom with this department), as its routing sees it. */
export interface DepartmentCandidate {
  id: number;
  title: string;
  email: string;
  active: boolean;
  confirmationStatus: ConfirmationStatus;
  downUntil: Date | null;
  /** Its place in the department's order; null when never placed (it then comes after the placed ones, by id). */
  position: number | null;
}

export interface DepartmentStore {
  /** Every department, in display order. */
  list(): Promise<Department[]>;
  findByCode(code: string): Promise<Department | null>;
  /** Every server that serves the department, in the department's order: placed ones by position, then the others by id. */
  candidates(departmentId: number): Promise<DepartmentCandidate[]>;
  /**
   * The first `limit` candidates that would be used now (active, confirmed, not « en panne » at `now`: the same test
   * as routing's skipReasonOf), in the department's order, without reading the others: the warnings need two at most.
   */
  usableCandidates(departmentId: number, now: Date, limit: number): Promise<DepartmentCandidate[]>;
  /** The active departments in display order, each with its first `limit` usable candidates (the lists' warnings, at every view). */
  activeWithUsable(now: Date, limit: number): Promise<{ department: Department; usable: DepartmentCandidate[] }[]>;
  /** The first `limit` candidates in the department's order, whatever their state, without reading the others. */
  firstCandidates(departmentId: number, limit: number): Promise<DepartmentCandidate[]>;
  /** How many servers serve the department. */
  candidateCount(departmentId: number): Promise<number>;
  /** Writes the department's order: these servers at positions 1, 2, 3…, in this order; other placements are dropped. */
  setOrder(departmentId: number, serverIds: readonly number[]): Promise<void>;
  /**
   * Inside a transaction, holds the department's order until it ends: two moves (maybe on two instances) read and
   * write it one after the other.
   */
  lockOrder(departmentId: number): Promise<void>;
  /**
   * Puts the server at the end of the department's order (max + 1), unless it is placed already. The serving servers
   * not yet placed are placed first, by id, so the server comes after them too. Call it inside a transaction.
   */
  appendServer(departmentId: number, serverId: number): Promise<void>;
  /** The server loses its place in these departments' orders. */
  dropServer(serverId: number, departmentIds: readonly number[]): Promise<void>;
  /** Adds a department after the others; throws UniqueViolation('code') when the code is taken. */
  insert(department: { code: string; name: string }): Promise<Department>;
  /** false when no department has this id. */
  update(id: number, changes: Partial<Pick<Department, 'name' | 'active'>>): Promise<boolean>;
}
