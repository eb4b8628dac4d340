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
  /** Writes the department's order: these servers at positions 1, 2, 3…, in this order; other placements are dropped. */
  setOrder(departmentId: number, serverIds: readonly number[]): Promise<void>;
}
