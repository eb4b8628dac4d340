import type { MessageKey, Params } from '../i18n/index.js';

export const departmentLimits = { code: 40, name: 80 } as const;
/** Lower-case letters, digits and hyphens, no hyphen at either end: it appears in URLs and in the API. */
const codePattern = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const controlCharacters = /[\u0000-\u001f\u007f]/;

export interface FieldError {
  key: MessageKey;
  params?: Params;
}
export type DepartmentField = 'code' | 'name';
export type DepartmentErrors = Partial<Record<DepartmentField, FieldError>>;
export interface DepartmentValues {
  code: string;
  name: string;
}

function text(raw: unknown): string {
  return typeof raw === 'string' ? raw.normalize('NFC').trim() : '';
}

export function validateName(raw: unknown): { name: string; error: FieldError | null } {
  const name = text(raw);
  if (!name) return { name, error: { key: 'error.department.name.required' } };
  if (controlCharacters.test(name)) return { name, error: { key: 'error.department.name.invalid' } };
  if ([...name].length > departmentLimits.name) return { name, error: { key: 'error.department.name.tooLong', params: { max: departmentLimits.name } } };
  return { name, error: null };
}

/** A new department's code and name. */
export function validateDepartmentForm(raw: Record<string, unknown>): { ok: true; value: DepartmentValues } | { ok: false; values: DepartmentValues; errors: DepartmentErrors } {
  const code = text(raw.code);
  const { name, error: nameError } = validateName(raw.name);
  const errors: DepartmentErrors = {};
  if (!code) errors.code = { key: 'error.department.code.required' };
  else if (code.length > departmentLimits.code) errors.code = { key: 'error.department.code.tooLong', params: { max: departmentLimits.code } };
  else if (!codePattern.test(code)) errors.code = { key: 'error.department.code.invalid' };
  if (nameError) errors.name = nameError;
  const values = { code, name };
  return Object.keys(errors).length ? { ok: false, values, errors } : { ok: true, value: values };
}
