import { serviceAccountKeyFile, serviceAccountKeyFileField } from '../smtp-servers/validation.js';
import type { LogoContentType, LogoFacts } from './store.js';

export const logoLimits = { bytes: 512 * 1024, width: 2000, height: 2000 } as const;

/** The file field of the server form, and the most it may carry (enforced while the upload streams in). */
export const logoField = 'logo';
export const serverFormFiles = { [logoField]: { maxBytes: logoLimits.bytes }, [serviceAccountKeyFileField]: serviceAccountKeyFile, oauthServiceAccountKey: serviceAccountKeyFile } as const;

export type LogoRefusal = 'tooLarge' | 'svg' | 'notImage' | 'tooWide' | 'unreadable';

export type LogoInspection = { ok: true; facts: LogoFacts } | { ok: false; reason: LogoRefusal };

interface Dimensions {
  contentType: LogoContentType;
  width: number;
  height: number;
}

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngDimensions(bytes: Buffer): Dimensions | null {
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(pngSignature) || bytes.toString('latin1', 12, 16) !== 'IHDR') return null;
  return { contentType: 'image/png', width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

function gifDimensions(bytes: Buffer): Dimensions | null {
  const magic = bytes.toString('latin1', 0, 6);
  if (bytes.length < 10 || (magic !== 'GIF87a' && magic !== 'GIF89a')) return null;
  return { contentType: 'image/gif', width: bytes.readUInt16LE(6), height: bytes.readUInt16LE(8) };
}

// Start-of-frame markers (baseline, progressive, lossless…); C4, C8 and CC are other segments.
const startOfFrame = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

function jpegDimensions(bytes: Buffer): Dimensions | null | 'unreadable' {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8 || bytes[2] !== 0xff) return null;
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) return 'unreadable';
    const marker = bytes[offset + 1]!;
    // Fill bytes, and markers that carry no length.
    if (marker === 0xff) {
      offset += 1;
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      offset += 2;
      continue;
    }
    const length = bytes.readUInt16BE(offset + 2);
    if (length < 2) return 'unreadable';
    if (startOfFrame.has(marker)) {
      if (offset + 9 > bytes.length) return 'unreadable';
      return { contentType: 'image/jpeg', height: bytes.readUInt16BE(offset + 5), width: bytes.readUInt16BE(offset + 7) };
    }
    if (marker === 0xda || marker === 0xd9) return 'unreadable';
    offset += 2 + length;
  }
  return 'unreadable';
}

/** SVG (or any XML) can carry script: named as such so the refusal says why. */
function looksLikeSvg(bytes: Buffer): boolean {
  const head = bytes.toString('utf8', 0, Math.min(bytes.length, 1024)).replace(/^\uFEFF/, '').trimStart().toLowerCase();
  return head.startsWith('<?xml') || head.startsWith('<svg') || /<svg[\s>]/.test(head);
}

/**
 * What an uploaded file is, from its bytes only (never its name or declared type): a PNG, JPEG or GIF within the
 * limits, or why it is refused. `truncated`: the upload went past the byte limit and was cut while streaming.
 */
export function inspectLogo(bytes: Buffer, truncated = false): LogoInspection {
  if (truncated || bytes.length > logoLimits.bytes) return { ok: false, reason: 'tooLarge' };
  const found = pngDimensions(bytes) ?? gifDimensions(bytes) ?? jpegDimensions(bytes);
  if (found === 'unreadable') return { ok: false, reason: 'unreadable' };
  if (!found) return { ok: false, reason: looksLikeSvg(bytes) ? 'svg' : 'notImage' };
  if (found.width < 1 || found.height < 1) return { ok: false, reason: 'unreadable' };
  if (found.width > logoLimits.width || found.height > logoLimits.height) return { ok: false, reason: 'tooWide' };
  return { ok: true, facts: { ...found, size: bytes.length } };
}

export function logoExtension(contentType: LogoContentType): string {
  return contentType === 'image/jpeg' ? 'jpg' : contentType.slice('image/'.length);
}
