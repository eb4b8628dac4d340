/**
 * A path on this site to send the browser back to, or the fallback: not "//evil", "/\evil" (browsers read "\" as
 * "/"), nor one hiding a tab or a newline (browsers drop them: "/\t/evil" becomes "//evil").
 */
export function safeReturnPath(next: unknown, fallback = '/smtp-servers'): string {
  if (typeof next !== 'string' || next.length > 2000 || !next.startsWith('/')) return fallback;
  if (/[\\\u0000-\u001f\u007f]/.test(next) || next.startsWith('//')) return fallback;
  // A Location header carries ASCII only: "/é" becomes "/%C3%A9" (what is already escaped stays as it is).
  return next.replace(/[^\x21-\x7e]+/g, (run) => encodeURIComponent(run));
}

/**
 * After an action on a row, only the list itself (with its search, sort and page) is a place to come back to; any
 * other value, or one that had to be changed to be safe (CR, LF, NUL, non-ASCII), gives the list.
 */
export function listReturnPath(raw: unknown): string {
  const path = safeReturnPath(raw);
  return path === raw && /^\/smtp-servers(\?[^#]*)?$/.test(path) ? path : '/smtp-servers';
}
