import { escapeHtml } from '../web/escape.js';
import { signatureText } from './plain-text.js';
import { logoPlaceholderSrc, sanitizeSignature } from './sanitize.js';

export interface SignaturePreview {
  /** Sanitised HTML, safe to put in the page as it is. */
  html: string;
  text: string;
  removed: string[];
}

const placeholderImage = new RegExp(`<img\\b[^>]*\\ssrc="${logoPlaceholderSrc}"[^>]*>`, 'g');

/**
 * The signature as the mail will show it, for the form: the placeholder shows the logo through the authenticated
 * logo route (`logoUrl`), or a mark saying where it will go when there is none yet.
 */
export function signaturePreview(signature: string, logoUrl: string | null, missingLogoWords: string): SignaturePreview {
  const clean = sanitizeSignature(signature);
  const html = clean.html.replace(placeholderImage, (image) =>
    logoUrl ? image.replace(`src="${logoPlaceholderSrc}"`, `src="${logoUrl}"`) : `<span class="logo-missing">${escapeHtml(missingLogoWords)}</span>`,
  );
  // The page's CSP refuses inline styles anyway; leaving them out spares the browser's console a refusal per element.
  return { html: html.replace(/\sstyle="[^"]*"/g, ''), text: signatureText(clean.html), removed: clean.removed };
}
