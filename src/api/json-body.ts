/** What is wrong with a body, named where it is found: no JSON at all (`not-json`), or a body the API does not take as JSON. */
export type JsonBodyFault = 'not-utf8' | 'not-json' | 'prototype-key' | 'repeated-key' | 'forbidden-character';

/** A body the API refuses before its schema is checked: `field` is where (a JSON path), `reason` what is wrong there. */
export class JsonBodyError extends Error {
  constructor(
    readonly kind: JsonBodyFault,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field} ${reason}`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
// U+0000 no store keeps (PostgreSQL refuses it in text), and a surrogate without its pair no UTF-8 can write. The
// pages' forms check their fields one by one (a 422 by the field); the API refuses them wherever they are.
const forbiddenCharacter = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const forbiddenReason = 'holds a character that is not allowed (U+0000 or an unpaired surrogate)';

const childPath = (path: string, key: string | number) =>
  typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;

/**
 * The first key an object of the text holds twice, as a path (`subject`, `attachments[0].filename`); null if none.
 * JSON.parse keeps the last of two and says nothing. The text is valid JSON (parsed before): only strings and the
 * structure are read.
 */
function repeatedKeyIn(text: string): string | null {
  type Level = { path: string; keys: Set<string> | null; key: string; index: number; expectKey: boolean };
  const levels: Level[] = [];
  const child = (): string => {
    const top = levels[levels.length - 1];
    if (!top) return '';
    return top.keys ? childPath(top.path, top.key) : childPath(top.path, top.index);
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let end = i + 1;
      for (;;) {
        end = text.indexOf('"', end);
        let backslashes = 0;
        while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++;
        if (backslashes % 2 === 0) break;
        end++;
      }
      const top = levels[levels.length - 1];
      if (top?.keys && top.expectKey) {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (top.keys.has(key)) return childPath(top.path, key);
        top.keys.add(key);
        top.key = key;
        top.expectKey = false;
      }
      i = end;
    } else if (c === 0x7b /* { */) levels.push({ path: child(), keys: new Set(), key: '', index: 0, expectKey: true });
    else if (c === 0x5b /* [ */) levels.push({ path: child(), keys: null, key: '', index: 0, expectKey: false });
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) levels.pop();
    else if (c === 0x2c /* , */) {
      const top = levels[levels.length - 1]!;
      if (top.keys) top.expectKey = true;
      else top.index++;
    }
  }
  return null;
}

/** The first string of the value (a key or a value) that holds a character no store keeps, as a path; null if none. */
function forbiddenCharacterIn(value: unknown, path: string): string | null {
  if (typeof value === 'string') return forbiddenCharacter.test(value) ? path || 'body' : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = forbiddenCharacterIn(value[i], childPath(path, i));
      if (found !== null) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (forbiddenCharacter.test(key)) return childPath(path, key);
      const found = forbiddenCharacterIn(item, childPath(path, key));
      if (found !== null) return found;
    }
  }
  return null;
}

/**
 * The API's one reading of a JSON body: UTF-8 only, valid JSON, no key twice in an object, no U+0000 nor unpaired
 * surrogate in any string, no `__proto__` or `constructor.prototype` key. Throws a JsonBodyError saying where.
 */
export function parseJsonBody(bytes: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new JsonBodyError('not-utf8', 'body', 'is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text, (key, item: unknown) => {
      if (key === '__proto__' || (key === 'constructor' && item !== null && typeof item === 'object' && Object.hasOwn(item, 'prototype'))) {
        throw new JsonBodyError('prototype-key', 'body', `holds a ${key === '__proto__' ? '__proto__' : 'constructor.prototype'} key`);
      }
      return item;
    });
  } catch (err) {
    if (err instanceof JsonBodyError) throw err;
    throw new JsonBodyError('not-json', 'body', 'is not valid JSON');
  }
  const repeated = repeatedKeyIn(text);
  if (repeated !== null) throw new JsonBodyError('repeated-key', repeated, 'is sent twice');
  const forbidden = forbiddenCharacterIn(value, '');
  if (forbidden !== null) throw new JsonBodyError('forbidden-character', forbidden, forbiddenReason);
  return value;
}
