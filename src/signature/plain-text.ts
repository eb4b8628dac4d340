const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decode(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, entity: string) => {
    if (entity[0] === '#') {
      const code = entity[1] === 'x' || entity[1] === 'X' ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return named[entity.toLowerCase()] ?? whole;
  });
}

const lineEnds = new Set(['p', 'div', 'tr', 'table', 'blockquote']);

/** A URL as a reader would type it: `mailto:` and `tel:` links read as their address when the text is it already. */
function sameAsText(text: string, href: string): boolean {
  const bare = href.replace(/^(mailto|tel):/i, '');
  const normal = (s: string) => s.replace(/\s+/g, '').replace(/\/$/, '').toLowerCase();
  return normal(text) === normal(href) || normal(text) === normal(bare);
}

/**
 * The plain-text version of a sanitised signature (the output of sanitizeSignature, well-formed and quoted), for the
 * text part of mails: one line per paragraph, row or line break, links as « texte (url) », images left out.
 */
export function signatureText(cleanHtml: string): string {
  let out = '';
  const links: { href: string; start: number }[] = [];
  const tokens = /<(\/?)([a-z][a-z0-9-]*)((?:\s+[a-z-]+(?:="[^"]*")?)*)\s*\/?>|([^<]+)/gi;
  for (const [, closing, rawName, attributes, text] of cleanHtml.matchAll(tokens)) {
    if (text !== undefined) {
      out += decode(text.replace(/\s+/g, ' '));
      continue;
    }
    const name = rawName!.toLowerCase();
    if (name === 'br' || name === 'hr') out += '\n';
    // A block starts and ends a line, without leaving blank ones between blocks.
    else if (lineEnds.has(name)) {
      if (out !== '' && !out.endsWith('\n')) out += '\n';
    }
    else if ((name === 'td' || name === 'th') && closing) out += ' ';
    else if (name === 'a' && !closing) {
      const href = /\shref="([^"]*)"/i.exec(attributes ?? '')?.[1];
      links.push({ href: href === undefined ? '' : decode(href), start: out.length });
    } else if (name === 'a' && closing) {
      const link = links.pop();
      if (!link || !link.href) continue;
      const label = out.slice(link.start).trim();
      if (!label) out += link.href;
      else if (!sameAsText(label, link.href)) out += ` (${link.href})`;
    }
  }
  return out
    .replace(/\u00a0/g, ' ')
    .split('\n')
    .map((line) => line.replace(/[ \t]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
