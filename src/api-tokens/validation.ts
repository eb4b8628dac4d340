import type { FormErrors, FormResult } from '../auth/validation.js';
import { fieldList, fieldText, type FormFields } from '../web/form-body.js';
import type { TokenScope } from './service.js';

export type TokenField = 'name' | 'departments';

export interface TokenFormValues {
  name: string;
  scope: 'all' | 'some';
  departments: string[];
}

export const tokenNameMax = 100;
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;

/** A token's name and the departments it may send for: every one (those added later too), or those ticked. */
export function validateTokenForm(fields: FormFields, departmentCodes: readonly string[]): FormResult<TokenScope, TokenFormValues, TokenField> {
  const values: TokenFormValues = {
    name: fieldText(fields, 'name').trim(),
    scope: fieldText(fields, 'scope') === 'all' ? 'all' : 'some',
    departments: fieldList(fields, 'departments'),
  };
  const errors: FormErrors<TokenField> = {};
  if (!values.name) errors.name = { key: 'error.apiToken.name.required' };
  else if (CONTROL_CHARACTERS.test(values.name)) errors.name = { key: 'error.apiToken.name.invalid' };
  else if ([...values.name].length > tokenNameMax) errors.name = { key: 'error.apiToken.name.tooLong', params: { max: tokenNameMax } };
  if (values.scope === 'some') {
    const unknown = values.departments.find((code) => !departmentCodes.includes(code));
    if (unknown !== undefined) errors.departments = { key: 'error.apiToken.departments.unknown', params: { code: unknown } };
    else if (values.departments.length === 0) errors.departments = { key: 'error.apiToken.departments.required' };
  }
  if (Object.keys(errors).length) return { ok: false, values, errors };
  return { ok: true, values, value: { name: values.name, allDepartments: values.scope === 'all', departments: values.scope === 'all' ? [] : [...new Set(values.departments)] } };
}
