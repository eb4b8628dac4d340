import { likePattern } from '../db/like.js';

/** Lower case without accents: "Équipe Vente" → "equipe vente". The same function builds the index and the query. */
export function normalizeForSearch(value: string): string {
  return value.normalize('NFD').replace(/\p{M}+/gu, '').toLowerCase();
}

export interface SearchPlan {
  /** Every normalised term; a row matches when its search text contains each of them. */
  terms: string[];
  /** An FTS5 trigram MATCH expression for the terms of 3 characters or more, or null. */
  match: string | null;
  /** Shorter terms, matched with LIKE on the normalised text (trigrams cannot index them). */
  likes: string[];
}

export function planSearch(q: string): SearchPlan | null {
  const terms = normalizeForSearch(q)
    .split(/\s+/)
    .map((term) => term.trim())
    .filter(Boolean)
    .slice(0, 10);
  if (terms.length === 0) return null;
  const long = terms.filter((term) => [...term].length >= 3);
  const short = terms.filter((term) => [...term].length < 3);
  return {
    terms,
    match: long.length ? long.map((term) => `"${term.replace(/"/g, '""')}"`).join(' AND ') : null,
    likes: short.map(likePattern),
  };
}
