import sanitizeHtml from 'sanitize-html';

/** Where the admin wants the uploaded logo (« Insérer le logo »); the composer replaces it with the inline image. */
export const logoPlaceholderSrc = 'cid:logo';
export const logoPlaceholder = `<img src="${logoPlaceholderSrc}" alt="Logo">`;

const textTags = ['b', 'strong', 'i', 'em', 'u', 's', 'small', 'sub', 'sup', 'span', 'font'];
const blockTags = ['p', 'div', 'br', 'hr', 'blockquote'];
const tableTags = ['table', 'thead', 'tbody', 'tfoot', 'tr', 'td', 'th'];
const allowedTags = [...textTags, ...blockTags, ...tableTags, 'a', 'img'];

const cellAttributes = ['colspan', 'rowspan', 'align', 'valign', 'width', 'height'];
const allowedAttributes: Record<string, string[]> = {
  '*': ['style', 'title', 'dir', 'lang'],
  a: ['href'],
  img: ['src', 'alt', 'width', 'height'],
  font: ['color', 'size', 'face'],
  p: ['align'],
  div: ['align'],
  table: ['width', 'border', 'cellpadding', 'cellspacing', 'align'],
  tr: ['align', 'valign'],
  td: cellAttributes,
  th: cellAttributes,
};
const linkSchemes = ['http', 'https', 'mailto', 'tel'];

/** A style that could fetch something or run something: removed whole (a CSS escape could hide `url(`, so any backslash too). */
const hostileStyle = /url\s*\(|expression\s*\(|javascript:|vbscript:|@import|behavior\s*:|-moz-binding|image-set\s*\(|\\|\/\*/i;

/** Drops what a browser ignores inside a URL's scheme (controls, spaces, entities already decoded), as browsers do. */
function schemeOf(url: string): string | null {
  const compact = url.replace(/[\u0000-\u0020\u007f-\u009f]/g, '').toLowerCase();
  const match = /^([a-z][a-z0-9+.-]*):/.exec(compact);
  return match ? match[1]! : null;
}

function shorten(value: string): string {
  const chars = [...value];
  return chars.length > 40 ? `${chars.slice(0, 40).join('')}…` : value;
}

export interface CleanSignature {
  /** The signature as it may be shown and sent: only what the allowlist keeps. */
  html: string;
  /** What was taken out, as the admin would recognise it (`<script>`, `onerror`, `href="javascript:…"`), each once. */
  removed: string[];
}

/** A signature with no markup at all is plain text: its line breaks are kept as such. */
function asHtml(signature: string): string {
  if (/<[a-z!/?]/i.test(signature)) return signature;
  return signature
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r?\n/g, '<br>\n');
}

/**
 * The signature through sanitize-html's allowlist: text formatting, paragraphs and line breaks, simple tables, links
 * to http, https, mailto and tel, and images only as the logo placeholder. Everything else (scripts, event and
 * hx-/data- attributes, styles that fetch, forms, frames, foreign images) is removed and named in `removed`.
 */
export function sanitizeSignature(signature: string): CleanSignature {
  const removed = new Set<string>();
  const html = sanitizeHtml(asHtml(signature), {
    allowedTags,
    allowedAttributes,
    allowedSchemes: linkSchemes,
    allowedSchemesByTag: { img: ['cid'] },
    allowedSchemesAppliedToAttributes: ['href', 'src'],
    allowProtocolRelative: false,
    disallowedTagsMode: 'discard',
    exclusiveFilter: (frame) => frame.tag === 'img' && frame.attribs.src !== logoPlaceholderSrc,
    transformTags: {
      '*': (tagName, attribs) => {
        const name = tagName.toLowerCase();
        if (!allowedTags.includes(name)) {
          removed.add(`<${name}>`);
          return { tagName, attribs };
        }
        const kept: Record<string, string> = {};
        const allowedHere = [...(allowedAttributes['*'] ?? []), ...(allowedAttributes[name] ?? [])];
        for (const [attribute, value] of Object.entries(attribs)) {
          const key = attribute.toLowerCase();
          if (!allowedHere.includes(key)) removed.add(key);
          else if (key === 'style' && hostileStyle.test(value)) removed.add(`style="${shorten(value)}"`);
          else if (key === 'href' && !linkSchemes.includes(schemeOf(value) ?? '')) removed.add(`href="${shorten(value)}"`);
          else kept[key] = value;
        }
        if (name === 'img') {
          if (kept.src?.trim().toLowerCase() === logoPlaceholderSrc) kept.src = logoPlaceholderSrc;
          else {
            removed.add(kept.src ? `<img src="${shorten(kept.src)}">` : '<img>');
            // Without a src, exclusiveFilter drops it.
            delete kept.src;
          }
        }
        return { tagName, attribs: kept };
      },
    },
  });
  return { html: html.trim(), removed: [...removed] };
}
