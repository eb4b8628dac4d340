import type { FormErrors, FormResult } from '../auth/validation.js';
import { fieldText, type FormFields } from '../web/form-body.js';

export type AlertServerField = 'server';
export type OptInField = 'optIn';

/** « auto » or the id of an existing server. */
export function validateAlertServerForm(fields: FormFields, serverIds: readonly number[]): FormResult<number | null, { server: string }, AlertServerField> {
  const server = fieldText(fields, 'server').trim();
  if (server === 'auto' || server === '') return { ok: true, values: { server: 'auto' }, value: null };
  const id = /^\d{1,9}$/.test(server) ? Number(server) : NaN;
  if (!serverIds.includes(id)) {
    const errors: FormErrors<AlertServerField> = { server: { key: 'error.alertSettings.server.unknown' } };
    return { ok: false, values: { server }, errors };
  }
  return { ok: true, values: { server }, value: id };
}

/** A checkbox: absent (unticked) or « on ». */
export function validateOptInForm(fields: FormFields): FormResult<boolean, { optIn: boolean }, OptInField> {
  const value = fields.optIn;
  if (value === undefined || value === '') return { ok: true, values: { optIn: false }, value: false };
  if (value === 'on') return { ok: true, values: { optIn: true }, value: true };
  return { ok: false, values: { optIn: false }, errors: { optIn: { key: 'error.myAlerts.optIn.invalid' } } };
}
