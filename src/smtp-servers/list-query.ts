import {
  defaultPerPage,
  defaultSort,
  isSortableColumn,
  perPageChoices,
  type ServerColumn,
  type SortableColumn,
  type SortDirection,
} from './columns.js';
import {
  confirmationFilters,
  securityFilters,
  testFilters,
  type ConfirmationFilter,
  type SecurityFilter,
  type TestFilter,
} from './search.js';

/** The list's state as it travels in the URL: bookmarkable, and the same for the page, the fragment and the exports. */
export interface ListState {
  q: string;
  /** The status filters; '' shows every server. */
  confirmation: ConfirmationFilter | '';
  test: TestFilter | '';
  security: SecurityFilter | '';
  sort: SortableColumn;
  dir: SortDirection;
  page: number;
  perPage: number;
}

function first(value: unknown): string {
  if (Array.isArray(value)) value = value[0];
  return typeof value === 'string' ? value : '';
}

function oneOf<T extends string>(choices: readonly T[], value: unknown): T | '' {
  const chosen = first(value);
  return (choices as readonly string[]).includes(chosen) ? (chosen as T) : '';
}

export const filterNames = ['confirmation', 'test', 'security'] as const;
export type FilterName = (typeof filterNames)[number];
export const filterChoices: { [K in FilterName]: readonly string[] } = {
  confirmation: confirmationFilters,
  test: testFilters,
  security: securityFilters,
};

export function listStateFrom(query: Record<string, unknown>): ListState {
  const sort = first(query.sort);
  const dir = first(query.dir);
  const page = Number.parseInt(first(query.page), 10);
  const perPage = Number.parseInt(first(query.per), 10);
  return {
    // Control characters are never part of what anyone searches for (and a NUL would cut an FTS5 string short).
    q: first(query.q).replace(/[\u0000-\u001f\u007f]/g, ' ').trim().slice(0, 200),
    confirmation: oneOf(confirmationFilters, query.confirmation),
    test: oneOf(testFilters, query.test),
    security: oneOf(securityFilters, query.security),
    sort: isSortableColumn(sort) ? sort : defaultSort.sort,
    dir: dir === 'desc' || dir === 'asc' ? dir : defaultSort.dir,
    page: Number.isFinite(page) && page > 0 ? page : 1,
    perPage: (perPageChoices as readonly number[]).includes(perPage) ? perPage : defaultPerPage,
  };
}

/** A query string for this state with some parts changed; defaults are left out to keep URLs short. */
export function listUrl(state: ListState, changes: Partial<ListState> = {}, base = '/smtp-servers'): string {
  const next = { ...state, ...changes };
  const params = new URLSearchParams();
  if (next.q) params.set('q', next.q);
  for (const name of filterNames) if (next[name]) params.set(name, next[name]);
  if (next.sort !== defaultSort.sort || next.dir !== defaultSort.dir) {
    params.set('sort', next.sort);
    params.set('dir', next.dir);
  }
  if (next.perPage !== defaultPerPage) params.set('per', String(next.perPage));
  if (next.page > 1) params.set('page', String(next.page));
  const query = params.toString();
  return query ? `${base}?${query}` : base;
}

/** Clicking a header sorts by it ascending; clicking the current sort column again flips the direction. */
export function sortLink(state: ListState, column: SortableColumn): string {
  const dir: SortDirection = state.sort === column && state.dir === 'asc' ? 'desc' : 'asc';
  return listUrl(state, { sort: column, dir, page: 1 });
}

export function ariaSort(state: ListState, column: ServerColumn): 'ascending' | 'descending' | undefined {
  if (state.sort !== column) return undefined;
  return state.dir === 'asc' ? 'ascending' : 'descending';
}
