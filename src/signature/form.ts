import type { FieldError } from '../smtp-servers/validation.js';
import { fieldText, type FormFields, type UploadedFile } from '../web/form-body.js';
import { inspectLogo, logoField, logoLimits } from './logo.js';
import type { LogoChange } from './repository.js';

export type LogoFormResult = { ok: true; change: LogoChange } | { ok: false; error: FieldError };

/**
 * The logo part of a server form: the file chosen (checked by its bytes), the « Retirer le logo » box, or, for a
 * copy of a server, its logo (kept unless the box is ticked or another file chosen).
 */
export function logoChangeFrom(form: FormFields, files: Readonly<Record<string, UploadedFile>>, options: { copyOf?: number | null } = {}): LogoFormResult {
  const file = files[logoField];
  if (file) {
    const inspected = inspectLogo(file.bytes, file.truncated);
    if (!inspected.ok) {
      const params = { maxKb: logoLimits.bytes / 1024, maxWidth: logoLimits.width, maxHeight: logoLimits.height };
      return { ok: false, error: { key: `error.logo.${inspected.reason}`, params } };
    }
    return { ok: true, change: { kind: 'replace', facts: inspected.facts, bytes: file.bytes } };
  }
  if (fieldText(form, 'removeLogo') === 'on') return { ok: true, change: { kind: 'remove' } };
  if (options.copyOf) return { ok: true, change: { kind: 'copy', fromServerId: options.copyOf } };
  return { ok: true, change: null };
}
