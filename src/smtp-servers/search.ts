/** Lower case without accents: "Équipe Vente" → "equipe vente". The same function builds the index and the query. */
export function normalizeForSearch(value: string): string {
  return value.normalize('NFD').replace(/\p{M}+/gu, '').toLowerCase();
}

export const confirmationFilters = ['unconfirmed', 'pending', 'confirmed', 'failed'] as const;
export const testFilters = ['ok', 'failed', 'never'] as const;
export const securityFilters = ['none', 'starttls', 'tls'] as const;
export type ConfirmationFilter = (typeof confirmationFilters)[number];
export type TestFilter = (typeof testFilters)[number];
export type SecurityFilter = (typeof securityFilters)[number];

/** What a search word may also mean besides its text: a port, a security or a confirmation status. */
export type TermMeaning = { port: number } | { security: SecurityFilter } | { confirmation: ConfirmationFilter };

export interface SearchTerm {
  /** Normalised text the row's search text must contain… */
  text: string;
  /** …unless the row has what the word names ("465", "starttls", "non confirmé"). */
  meaning: TermMeaning | null;
}

// The words of both languages as normalizeForSearch writes them; the longest phrase wins.
const vocabulary: { words: string[]; meaning: TermMeaning }[] = [
  { words: ['non', 'confirme'], meaning: { confirmation: 'unconfirmed' } },
  { words: ['not', 'confirmed'], meaning: { confirmation: 'unconfirmed' } },
  { words: ['unconfirmed'], meaning: { confirmation: 'unconfirmed' } },
  { words: ['en', 'attente'], meaning: { confirmation: 'pending' } },
  { words: ['pending'], meaning: { confirmation: 'pending' } },
  { words: ['confirme'], meaning: { confirmation: 'confirmed' } },
  { words: ['confirmed'], meaning: { confirmation: 'confirmed' } },
  { words: ['echec'], meaning: { confirmation: 'failed' } },
  { words: ['starttls'], meaning: { security: 'starttls' } },
  { words: ['ssl/tls'], meaning: { security: 'tls' } },
  { words: ['ssl'], meaning: { security: 'tls' } },
  { words: ['tls'], meaning: { security: 'tls' } },
];

function meaningAt(words: string[], at: number): { length: number; meaning: TermMeaning } | null {
  for (const entry of vocabulary) {
    if (entry.words.every((word, i) => words[at + i] === word)) return { length: entry.words.length, meaning: entry.meaning };
  }
  const word = words[at]!;
  const port = /^\d{1,5}$/.test(word) ? Number(word) : 0;
  return port >= 1 && port <= 65535 ? { length: 1, meaning: { port } } : null;
}

/** Every word must match; at most 10 of them. */
export function planSearch(q: string): SearchTerm[] {
  const words = normalizeForSearch(q).split(/\s+/).filter(Boolean).slice(0, 10);
  const terms: SearchTerm[] = [];
  for (let at = 0; at < words.length; ) {
    const found = meaningAt(words, at);
    const length = found?.length ?? 1;
    terms.push({ text: words.slice(at, at + length).join(' '), meaning: found?.meaning ?? null });
    at += length;
  }
  return terms;
}

/** Terms of 3 characters or more can go through the trigram index; shorter ones cannot. */
export function indexable(term: SearchTerm): boolean {
  return [...term.text].length >= 3;
}

export function ftsPhrase(text: string): string {
  return `"${text.replace(/"/g, '""')}"`;
}
