import type { MessageKey, Params } from '../i18n/index.js';
import { isValidEmail } from '../smtp-servers/validation.js';
import { checkPassword } from './password-rules.js';
import { normalizeEmail, roles, type Role } from './users.js';

export interface FieldError {
  key: MessageKey;
  params?: Params;
}
export type FormErrors<F extends string> = Partial<Record<F, FieldError>>;
export type FormResult<V, Values, F extends string> = { ok: true; value: V; values: Values } | { ok: false; values: Values; errors: FormErrors<F> };

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
export const displayNameMax = 100;

function text(raw: unknown): string {
  return typeof raw === 'string' ? raw : '';
}

function checked(raw: unknown): boolean {
  const value = text(raw);
  return value === 'on' || value === 'true' || value === '1';
}

export function validateEmail(email: string): MessageKey | null {
  if (!email) return 'error.account.email.required';
  if (!isValidEmail(email)) return 'error.account.email.invalid';
  return null;
}

function validateDisplayName(name: string): FieldError | null {
  if (!name) return { key: 'error.account.displayName.required' };
  if (CONTROL_CHARACTERS.test(name)) return { key: 'error.account.displayName.invalid' };
  if ([...name].length > displayNameMax) return { key: 'error.account.displayName.tooLong', params: { max: displayNameMax } };
  return null;
}

/** A new password and its confirmation; the rules of password-rules.ts. */
function validateNewPassword(
  raw: Record<string, unknown>,
  context: { email?: string; displayName?: string },
  errors: FormErrors<'password' | 'passwordConfirm'>,
): string {
  const password = text(raw.password);
  const confirm = text(raw.passwordConfirm);
  const problem = checkPassword(password, context);
  if (problem) errors.password = { key: problem };
  // Reported with the password's own problem, not after it: a person fixes both in one go.
  if (password !== confirm) errors.passwordConfirm = { key: 'error.account.passwordConfirm.mismatch' };
  return password;
}

// ---- sign-in ----

export interface LoginValues {
  email: string;
  next: string;
}

export function loginValuesFrom(raw: Record<string, unknown>): { values: LoginValues; password: string } {
  return { values: { email: text(raw.email).trim().slice(0, 320), next: text(raw.next) }, password: text(raw.password).slice(0, 1024) };
}

// ---- accounts (setup and the users page) ----

export type UserField = 'email' | 'displayName' | 'role' | 'disabled' | 'password' | 'passwordConfirm';
export interface UserFormValues {
  email: string;
  displayName: string;
  role: string;
  disabled: boolean;
}
export interface UserInput {
  email: string;
  displayName: string;
  role: Role;
  disabled: boolean;
  /** Only when creating. */
  password: string;
}

export function userValuesFrom(raw: Record<string, unknown>): UserFormValues {
  return {
    email: normalizeEmail(text(raw.email)),
    displayName: text(raw.displayName).trim(),
    role: text(raw.role),
    disabled: checked(raw.disabled),
  };
}

/** The users page's form; `withPassword` when creating (and for the first administrator). */
export function validateUserForm(raw: Record<string, unknown>, options: { withPassword: boolean }): FormResult<UserInput, UserFormValues, UserField> {
  const values = userValuesFrom(raw);
  const errors: FormErrors<UserField> = {};
  const emailProblem = validateEmail(values.email);
  if (emailProblem) errors.email = { key: emailProblem };
  const nameProblem = validateDisplayName(values.displayName);
  if (nameProblem) errors.displayName = nameProblem;
  if (!(roles as readonly string[]).includes(values.role)) errors.role = { key: 'error.account.role.invalid' };
  const password = options.withPassword ? validateNewPassword(raw, { email: values.email, displayName: values.displayName }, errors) : '';
  if (Object.keys(errors).length) return { ok: false, values, errors };
  return { ok: true, values, value: { ...values, role: values.role as Role, password } };
}

// ---- passwords ----

export type PasswordField = 'currentPassword' | 'password' | 'passwordConfirm';

/** An administrator's reset, or (with `current`) a user changing their own. */
export function validatePasswordForm(
  raw: Record<string, unknown>,
  context: { email: string; displayName: string; askCurrent: boolean },
): FormResult<{ current: string; password: string }, Record<string, never>, PasswordField> {
  const errors: FormErrors<PasswordField> = {};
  const current = text(raw.currentPassword).slice(0, 1024);
  if (context.askCurrent && !current) errors.currentPassword = { key: 'error.account.currentPassword.required' };
  const password = validateNewPassword(raw, context, errors);
  if (!errors.password && context.askCurrent && current && current === password) {
    errors.password = { key: 'error.account.password.unchanged' };
  }
  if (Object.keys(errors).length) return { ok: false, values: {}, errors };
  return { ok: true, values: {}, value: { current, password } };
}
