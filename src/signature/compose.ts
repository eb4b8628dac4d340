import { createHash } from 'node:crypto';
import { logoExtension } from './logo.js';
import { signatureText } from './plain-text.js';
import { logoPlaceholderSrc, sanitizeSignature } from './sanitize.js';
import type { StoredLogo } from './store.js';

export type { StoredLogo };

export interface InlineAttachment {
  cid: string;
  filename: string;
  content: Buffer;
  contentType: string;
  contentDisposition: 'inline';
}

export interface SignatureParts {
  /** The signature's HTML, the logo placeholder pointing at the attachment's `cid:`; '' when there is no signature. */
  html: string;
  text: string;
  /** The logo, when the signature shows it: bytes in the message, never a URL or a path for nodemailer to fetch. */
  attachments: InlineAttachment[];
}

const placeholderSrc = new RegExp(`\\ssrc="${logoPlaceholderSrc}"`, 'g');
const placeholderImage = new RegExp(`<img\\b[^>]*\\ssrc="${logoPlaceholderSrc}"[^>]*>`, 'g');

/** A Content-ID that names this image only (by its bytes), so two logos in one mailbox never mix up. */
function contentIdOf(logo: StoredLogo): string {
  return `logo.${createHash('sha256').update(logo.bytes).digest('hex').slice(0, 24)}@relais`;
}

/**
 * A server's signature as the parts of a mail: sanitised again at every call (whatever is stored), its plain-text
 * version, and the logo as an inline attachment where the signature has the placeholder. Without a logo the
 * placeholder is left out. Pure: no I/O.
 */
// The outbox composes every message with its server's signature: sanitized once per signature text, not per message.
const sanitized = new Map<string, string>();
function cleanSignature(signature: string): string {
  let clean = sanitized.get(signature);
  if (clean === undefined) {
    clean = sanitizeSignature(signature).html;
    if (sanitized.size >= 100) sanitized.clear();
    sanitized.set(signature, clean);
  }
  return clean;
}

export function signatureParts(server: { signature: string }, logo: StoredLogo | null): SignatureParts {
  const clean = cleanSignature(server.signature);
  if (!clean) return { html: '', text: '', attachments: [] };
  const text = signatureText(clean);
  const showsLogo = placeholderImage.test(clean);
  placeholderImage.lastIndex = 0;
  if (!logo || !showsLogo) return { html: clean.replace(placeholderImage, ''), text, attachments: [] };
  const cid = contentIdOf(logo);
  return {
    html: clean.replace(placeholderSrc, ` src="cid:${cid}"`),
    text,
    attachments: [{ cid, filename: `logo.${logoExtension(logo.contentType)}`, content: logo.bytes, contentType: logo.contentType, contentDisposition: 'inline' }],
  };
}

export interface MailBodies {
  html: string;
  text: string;
}

/**
 * A mail's bodies closed by the signature: in the HTML before `</body>` (or at its end), in the text after the usual
 * `-- ` separator line; the attachments to send with it.
 */
export function withSignature(mail: MailBodies, parts: SignatureParts): MailBodies & { attachments: InlineAttachment[] } {
  if (!parts.html && !parts.text) return { ...mail, attachments: [] };
  const block = `<div class="signature">-- <br>\n${parts.html}</div>\n`;
  const bodyEnd = mail.html.lastIndexOf('</body>');
  const html = bodyEnd === -1 ? `${mail.html}${block}` : `${mail.html.slice(0, bodyEnd)}${block}${mail.html.slice(bodyEnd)}`;
  const text = `${mail.text.replace(/\n*$/, '\n')}\n-- \n${parts.text}\n`;
  return { html, text, attachments: parts.attachments };
}
