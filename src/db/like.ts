/** A LIKE pattern matching the text anywhere, its own %, _ and backslash taken literally (use with ESCAPE '\\'). */
export function likePattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
