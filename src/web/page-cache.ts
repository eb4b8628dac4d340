import zlib from 'node:zlib';

export type Encoding = 'br' | 'gzip' | 'identity';

export interface EncodedHtml {
  encoding: Encoding;
  body: Buffer;
}

/** br, then gzip, when the client accepts them (q=0 refuses); identity otherwise. */
export function negotiateEncoding(acceptEncoding: string | undefined): Encoding {
  if (!acceptEncoding) return 'identity';
  const accepted = new Set(
    acceptEncoding
      .split(',')
      .map((part) => part.trim().split(';'))
      .filter(([, q]) => !q || Number(q.trim().replace(/^q=/, '')) > 0)
      .map(([name]) => name!.trim().toLowerCase()),
  );
  if (accepted.has('br')) return 'br';
  if (accepted.has('gzip') || accepted.has('*')) return 'gzip';
  return 'identity';
}

/** Compressed in one synchronous call: for a page of tens of kilobytes it is cheaper than a compression stream. */
export function encodeHtml(html: string, encoding: Encoding): EncodedHtml {
  const raw = Buffer.from(html, 'utf8');
  if (encoding === 'identity' || raw.length < 1024) return { encoding: 'identity', body: raw };
  if (encoding === 'br') {
    return { encoding, body: zlib.brotliCompressSync(raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } }) };
  }
  return { encoding, body: zlib.gzipSync(raw, { level: 6 }) };
}

interface Entry extends EncodedHtml {
  version: string;
}

/**
 * Recently rendered pages, by what they depend on. An entry is only served while the data version it was rendered
 * under is current, and for at most a minute (anything computed from the clock stays fresh).
 */
export class PageCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly maxEntries: number) {}

  get(key: string, version: string): EncodedHtml | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.version !== version) return undefined;
    this.entries.set(key, entry);
    return entry;
  }

  set(key: string, version: string, page: EncodedHtml): void {
    this.entries.delete(key);
    this.entries.set(key, { ...page, version });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  get size(): number {
    return this.entries.size;
  }
}
