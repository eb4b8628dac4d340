import net from 'node:net';
import { domainToASCII } from 'node:url';
import type { MessageKey, Params } from '../i18n/index.js';
import { parseServiceAccountKey } from '../smtp/oauth-tokens.js';
import { sanitizeSignature } from '../signature/sanitize.js';
import type { FormFields, UploadedFile } from '../web/form-body.js';

export const securityModes = ['none', 'starttls', 'tls'] as const;
export const authenticationModes = ['none', 'password', 'oauth2-microsoft', 'oauth2-google'] as const;
export const oauthModes = ['oauth2-microsoft', 'oauth2-google'] as const;
export const usageModes = ['default', 'custom'] as const;
export type Security = (typeof securityModes)[number];
export type Authentication = (typeof authenticationModes)[number];
export type Usage = (typeof usageModes)[number];

export const suggestedPorts: Record<Security, number> = { none: 25, starttls: 587, tls: 465 };

export const maxRateLimitPerMinute = 100_000;
export const limits = { title: 120, senderName: 120, username: 254, password: 1024, signature: 20_000, oauthTenant: 253, oauthClientId: 254, oauthClientSecret: 1024, oauthServiceAccountKey: 20_000 } as const;

/** The service account's JSON key may come as a file instead of pasted text (one byte over the limit: too long). */
export const serviceAccountKeyFileField = 'oauthServiceAccountKeyFile';
export const serviceAccountKeyFile = { maxBytes: limits.oauthServiceAccountKey + 1 } as const;

/**
 * The form with a chosen key file in place of the pasted key: the file wins when both are given. The file may also
 * come under the key's own field name (`curl -F oauthServiceAccountKey=@key.json`).
 */
export function withServiceAccountKeyFile(form: FormFields, files: Readonly<Record<string, UploadedFile>> | null | undefined): FormFields {
  const file = files?.[serviceAccountKeyFileField] ?? files?.oauthServiceAccountKey;
  if (!file || file.bytes.length === 0) return form;
  return { ...form, oauthServiceAccountKey: file.bytes.toString('utf8') };
}

export const serverFormFields = [
  'title',
  'host',
  'port',
  'security',
  'authentication',
  'email',
  'senderName',
  'username',
  'password',
  'usage',
  'departments',
  'verifyCertificate',
  'rateLimitPerMinute',
  'signature',
  'logo',
  'confirmCombination',
  'confirmLastUsable',
  'oauthTenant',
  'oauthClientId',
  'oauthClientSecret',
  'oauthServiceAccountKey',
] as const;
export type ServerFormField = (typeof serverFormFields)[number];
/** The form's fields that may repeat: any other sent twice is refused before the route runs. */
export const serverFormLists = ['departments'] as const;

export interface ServerInput {
  title: string;
  host: string;
  port: number;
  security: Security;
  authentication: Authentication;
  email: string;
  senderName: string;
  username: string;
  /** undefined keeps the stored password; null clears it; a string replaces it. */
  password: string | null | undefined;
  usage: Usage;
  departmentCodes: string[];
  verifyCertificate: boolean;
  /** Messages per minute the outbox may hand it (across instances); null: no limit. */
  rateLimitPerMinute: number | null;
  signature: string;
  /** The port/security mismatches the administrator confirmed with this save (empty when the combination is usual). */
  confirmedMismatches: CombinationMismatch[];
  /** OAuth2: the Microsoft tenant (id or domain); '' otherwise. */
  oauthTenant: string;
  /** OAuth2: the Microsoft application (client) id, or the Google service account's address; '' otherwise. */
  oauthClientId: string;
  /** The client secret or the service account's JSON key: undefined keeps the stored one; null clears it; a string replaces it. */
  oauthSecret: string | null | undefined;
}

/** What the form shows again after a failed submission: never the password. */
export interface ServerFormValues {
  title: string;
  host: string;
  port: string;
  security: string;
  authentication: string;
  email: string;
  senderName: string;
  username: string;
  usage: string;
  departments: string[];
  verifyCertificate: boolean;
  rateLimitPerMinute: string;
  signature: string;
  clearPassword: boolean;
  confirmCombination: boolean;
  oauthTenant: string;
  oauthClientId: string;
}

export interface FieldError {
  key: MessageKey;
  params?: Params;
}
export type ServerFormErrors = Partial<Record<ServerFormField, FieldError>>;

export type ValidationResult =
  | { ok: true; value: ServerInput; values: ServerFormValues; password: PasswordChoice; oauthSecret: PasswordChoice }
  | { ok: false; values: ServerFormValues; errors: ServerFormErrors; password: PasswordChoice; oauthSecret: PasswordChoice };

/** Where a stored password may be sent: the server it was typed for. */
export interface StoredPasswordTarget {
  host: string;
  port: number;
  security: Security;
  username: string;
  verifyCertificate: boolean;
}

export interface ValidationContext {
  departmentCodes: readonly string[];
  /** Editing a server that already has a password: a blank field keeps it, for the same server only. */
  storedPassword: StoredPasswordTarget | null;
  /** Editing a server: a combination it already had was confirmed then, and is not asked about again. */
  storedCombination?: Combination | null;
  /** Editing (or copying) a server that has an OAuth2 secret: a blank field keeps it, along the same path only. */
  storedOAuthSecret?: StoredOAuthTarget | null;
}

/** Where a stored OAuth2 secret may be used: the same mode, tenant and application, towards the same server and mailbox. */
export interface StoredOAuthTarget extends StoredPasswordTarget {
  authentication: string;
  oauthTenant: string;
  oauthClientId: string;
}

export type Combination = Pick<ServerInput, 'port' | 'security' | 'authentication'>;

export const combinationMismatches = ['tlsOnPlainPort', 'plainOnTlsPort', 'passwordInClear'] as const;
export type CombinationMismatch = (typeof combinationMismatches)[number];

/**
 * Port, security and authentication that do not go together: implicit TLS on a port that speaks plain SMTP first,
 * plain SMTP or STARTTLS on the implicit-TLS port, or a password sent over a connection that is never encrypted.
 */
export function mismatchesOf(combination: Combination): CombinationMismatch[] {
  const found: CombinationMismatch[] = [];
  if (combination.security === 'tls' && (combination.port === 587 || combination.port === 25)) found.push('tlsOnPlainPort');
  if (combination.security !== 'tls' && combination.port === 465) found.push('plainOnTlsPort');
  if (combination.security === 'none' && combination.authentication !== 'none') found.push('passwordInClear');
  return found;
}

/** The same mismatches read from what the form holds, for warnings shown by the fields. */
export function mismatchesOfValues(values: Pick<ServerFormValues, 'port' | 'security' | 'authentication'>): CombinationMismatch[] {
  if (!(securityModes as readonly string[]).includes(values.security)) return [];
  return mismatchesOf({
    port: Number(values.port),
    security: values.security as Security,
    authentication: (authenticationModes as readonly string[]).includes(values.authentication) ? (values.authentication as Authentication) : 'none',
  });
}

/**
 * A blank password field reuses the stored password only towards the server it was typed for: another host, port or
 * user, no encryption any more, or the certificate no longer checked, and it must be typed again. Otherwise anyone
 * who may edit a server could have Relais send the stored password to a machine of their choosing.
 */
export function storedPasswordStillApplies(stored: StoredPasswordTarget, typed: StoredPasswordTarget): boolean {
  return (
    stored.host.toLowerCase() === typed.host.toLowerCase() &&
    stored.port === typed.port &&
    stored.username === typed.username &&
    (stored.security === 'none' || typed.security !== 'none') &&
    (!stored.verifyCertificate || typed.verifyCertificate)
  );
}

/** How a server is reached with a password: what a stored one is bound to. */
export function passwordTargetOf(server: StoredPasswordTarget): StoredPasswordTarget {
  return { host: server.host, port: server.port, security: server.security, username: server.username, verifyCertificate: server.verifyCertificate };
}

export function storedPasswordOf(server: (StoredPasswordTarget & { hasPassword: boolean; passwordUnreadable?: boolean }) | null): StoredPasswordTarget | null {
  // A password no configured key opens cannot be reused: the form asks for it again.
  return server?.hasPassword && !server.passwordUnreadable ? passwordTargetOf(server) : null;
}

export type PasswordChoice =
  | { kind: 'none' }
  | { kind: 'typed'; password: string }
  | { kind: 'stored' }
  | { kind: 'cleared' }
  | { kind: 'missing' }
  | { kind: 'retype' }
  | { kind: 'tooLong' };

/**
 * Typed or stored, decided once from the one password value of the request: saving, the test of typed values,
 * the confirmation and sending all ask here. The stored password is chosen only towards the server it was typed for.
 */
export function choosePassword(
  use: { authentication: string; typed: string; clear: boolean; towards: StoredPasswordTarget },
  stored: StoredPasswordTarget | null,
): PasswordChoice {
  if (use.typed.length > limits.password) return { kind: 'tooLong' };
  if (use.authentication !== 'password') return { kind: 'none' };
  if (use.typed !== '') return { kind: 'typed', password: use.typed };
  if (use.clear) return { kind: 'cleared' };
  if (!stored) return { kind: 'missing' };
  return storedPasswordStillApplies(stored, use.towards) ? { kind: 'stored' } : { kind: 'retype' };
}

/** A saved server, as it is: its stored password, towards itself. */
export function savedServerPassword(server: StoredPasswordTarget & { hasPassword: boolean; authentication: string }): PasswordChoice {
  // An unreadable stored password is still "the stored one" here: revealing it refuses the request in words.
  const stored = server.hasPassword ? passwordTargetOf(server) : null;
  return choosePassword({ authentication: server.authentication, typed: '', clear: false, towards: passwordTargetOf(server) }, stored);
}

export function isOAuth(authentication: string): authentication is (typeof oauthModes)[number] {
  return (oauthModes as readonly string[]).includes(authentication);
}

/** How a server reaches its token and its mailbox: what a stored OAuth2 secret is bound to. */
export function oauthTargetOf(server: StoredOAuthTarget): StoredOAuthTarget {
  return { ...passwordTargetOf(server), authentication: server.authentication, oauthTenant: server.oauthTenant, oauthClientId: server.oauthClientId };
}

export function storedOAuthSecretOf(
  server: (StoredOAuthTarget & { hasOauthSecret: boolean; oauthSecretUnreadable?: boolean }) | null,
): StoredOAuthTarget | null {
  return server?.hasOauthSecret && !server.oauthSecretUnreadable ? oauthTargetOf(server) : null;
}

/**
 * The « typed or stored » rule of choosePassword for the OAuth2 secret (client secret or service account key): the
 * stored one only along the path it was typed for — same mode, tenant and application, same server and mailbox —
 * since the token it yields would otherwise go to another machine or speak for another mailbox.
 */
export function chooseOAuthSecret(use: { authentication: string; typed: string; towards: StoredOAuthTarget }, stored: StoredOAuthTarget | null): PasswordChoice {
  const max = use.authentication === 'oauth2-google' ? limits.oauthServiceAccountKey : limits.oauthClientSecret;
  if (use.typed.length > max) return { kind: 'tooLong' };
  if (!isOAuth(use.authentication)) return { kind: 'none' };
  if (use.typed.trim() !== '') return { kind: 'typed', password: use.typed.trim() };
  if (!stored) return { kind: 'missing' };
  const samePath =
    stored.authentication === use.authentication &&
    stored.oauthTenant.toLowerCase() === use.towards.oauthTenant.toLowerCase() &&
    (use.authentication === 'oauth2-google' || stored.oauthClientId === use.towards.oauthClientId) &&
    storedPasswordStillApplies(stored, use.towards);
  return samePath ? { kind: 'stored' } : { kind: 'retype' };
}

/** A saved server, as it is: its stored OAuth2 secret, towards itself. */
export function savedServerOAuthSecret(server: StoredOAuthTarget & { hasOauthSecret: boolean }): PasswordChoice {
  const stored = server.hasOauthSecret ? oauthTargetOf(server) : null;
  return chooseOAuthSecret({ authentication: server.authentication, typed: '', towards: oauthTargetOf(server) }, stored);
}

export type PasswordNudge = 'office365' | 'gmail';

/**
 * A password towards Microsoft 365 or Gmail: Microsoft turns basic authentication off by default from the end of
 * December 2026, Google takes only app passwords. Said on the list and the form; the stored password is never read for it.
 */
export function passwordNudgeOf(server: { host: string; authentication: string }): PasswordNudge | null {
  if (server.authentication !== 'password') return null;
  const host = server.host.trim().toLowerCase().replace(/\.$/, '');
  if (host === 'smtp.office365.com' || host === 'outlook.office365.com') return 'office365';
  if (host === 'smtp.gmail.com') return 'gmail';
  return null;
}

/** The secret a choice stands for; the stored one is decrypted only when chosen. */
export async function passwordFor(choice: PasswordChoice, revealStored: () => Promise<string | null>): Promise<string | null> {
  if (choice.kind === 'typed') return choice.password;
  if (choice.kind === 'stored') return revealStored();
  return null;
}

/** For the audit trail (kept in French): says that a stored secret left, and towards which host and port. */
export function storedPasswordNote(choice: PasswordChoice, target: { host: string; port: number }): string {
  return choice.kind === 'stored' ? ` ; mot de passe enregistré utilisé vers ${target.host}:${target.port}` : '';
}

const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/;
const HOST_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

function text(raw: unknown): string {
  return typeof raw === 'string' ? raw : '';
}

function list(raw: unknown): string[] {
  if (Array.isArray(raw)) return raw.filter((v): v is string => typeof v === 'string');
  return typeof raw === 'string' && raw !== '' ? [raw] : [];
}

/**
 * A host typed as a URL or with its port names the problem; a non-ASCII name is an internationalised domain name,
 * kept in its ASCII (punycode) form.
 */
export function checkHost(host: string): { ok: true; ascii: string } | { ok: false; error: FieldError } {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(host)) return { ok: false, error: { key: 'error.host.scheme', params: { scheme: host.slice(0, host.indexOf('://') + 3) } } };
  const withPort = /^([^:\[\]]+):(\d*)$/.exec(host) ?? /^(\[[^\]]+\]):(\d*)$/.exec(host);
  if (withPort) return { ok: false, error: { key: 'error.host.withPort', params: { host: withPort[1]!, port: withPort[2]! } } };
  if (/[^\x00-\x7f]/.test(host)) {
    const ascii = /[\s/]/.test(host) ? '' : domainToASCII(host);
    if (!ascii || !isValidHost(ascii)) return { ok: false, error: { key: 'error.host.idnInvalid' } };
    return { ok: true, ascii };
  }
  if (!isValidHost(host)) return { ok: false, error: { key: 'error.host.invalid' } };
  return { ok: true, ascii: host.toLowerCase() };
}

function checked(raw: unknown): boolean {
  const value = text(raw);
  return value === 'on' || value === 'true' || value === '1' || value === 'yes';
}

export function isValidHost(host: string): boolean {
  if (host.length === 0 || host.length > 253) return false;
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (net.isIP(bare)) return bare === host || net.isIPv6(bare);
  if (/^[\d.]+$/.test(host)) return false;
  const labels = host.replace(/\.$/, '').split('.');
  return labels.every((label) => HOST_LABEL.test(label));
}

export function isValidEmail(email: string): boolean {
  if (email.length > 254 || CONTROL_CHARACTERS.test(email)) return false;
  const at = email.lastIndexOf('@');
  if (at < 1) return false;
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  if (local.length > 64 || !/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/.test(local)) return false;
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) return false;
  return domain.includes('.') && !domain.endsWith('.') && isValidHost(domain) && !net.isIP(domain);
}

export function formValuesFrom(raw: Record<string, unknown>): ServerFormValues {
  return {
    title: text(raw.title).trim(),
    host: text(raw.host).trim(),
    port: text(raw.port).trim(),
    security: text(raw.security),
    authentication: text(raw.authentication),
    email: text(raw.email).trim(),
    senderName: text(raw.senderName).trim(),
    username: text(raw.username).trim(),
    usage: text(raw.usage),
    departments: list(raw.departments),
    verifyCertificate: checked(raw.verifyCertificate),
    rateLimitPerMinute: text(raw.rateLimitPerMinute).trim(),
    signature: text(raw.signature).replace(/\r\n/g, '\n'),
    clearPassword: checked(raw.clearPassword),
    confirmCombination: checked(raw.confirmCombination),
    oauthTenant: text(raw.oauthTenant).trim(),
    oauthClientId: text(raw.oauthClientId).trim(),
  };
}

/** Turns a raw form (or JSON) body into a server input, or the messages to show by each field. */
export function validateServerForm(raw: Record<string, unknown>, context: ValidationContext): ValidationResult {
  const values = formValuesFrom(raw);
  const password = text(raw.password);
  const errors: ServerFormErrors = {};

  if (!values.title) errors.title = { key: 'error.title.required' };
  else if (CONTROL_CHARACTERS.test(values.title)) errors.title = { key: 'error.title.invalid' };
  else if (values.title.length > limits.title) errors.title = { key: 'error.title.tooLong', params: { max: limits.title } };

  let host = '';
  if (!values.host) errors.host = { key: 'error.host.required' };
  else if (values.host.length > 253) errors.host = { key: 'error.host.tooLong' };
  else {
    const checkedHost = checkHost(values.host);
    if (checkedHost.ok) host = checkedHost.ascii;
    else errors.host = checkedHost.error;
  }

  const port = Number(values.port);
  if (!values.port) errors.port = { key: 'error.port.required' };
  else if (!/^\d{1,5}$/.test(values.port) || port < 1 || port > 65535) errors.port = { key: 'error.port.invalid' };

  if (!(securityModes as readonly string[]).includes(values.security)) errors.security = { key: 'error.security.invalid' };
  if (!(authenticationModes as readonly string[]).includes(values.authentication)) {
    errors.authentication = { key: 'error.authentication.invalid' };
  }

  if (!values.email) errors.email = { key: 'error.email.required' };
  else if (!isValidEmail(values.email)) errors.email = { key: 'error.email.invalid' };

  if (!values.senderName) errors.senderName = { key: 'error.senderName.required' };
  else if (CONTROL_CHARACTERS.test(values.senderName)) errors.senderName = { key: 'error.senderName.invalid' };
  else if (values.senderName.length > limits.senderName) {
    errors.senderName = { key: 'error.senderName.tooLong', params: { max: limits.senderName } };
  }

  const oauth = isOAuth(values.authentication);
  const needsCredentials = values.authentication === 'password' || oauth;
  if (CONTROL_CHARACTERS.test(values.username)) errors.username = { key: 'error.username.invalid' };
  else if (values.username.length > limits.username) {
    errors.username = { key: 'error.username.tooLong', params: { max: limits.username } };
  } else if (needsCredentials && !values.username) errors.username = { key: oauth ? 'error.username.mailboxRequired' : 'error.username.required' };
  else if (oauth && !isValidEmail(values.username)) errors.username = { key: 'error.username.mailbox' };

  // OAuth2's fields count only in their own mode: the others are ignored (and cleared) on save.
  const microsoft = values.authentication === 'oauth2-microsoft';
  const google = values.authentication === 'oauth2-google';
  if (microsoft) {
    if (!values.oauthTenant) errors.oauthTenant = { key: 'error.oauthTenant.required' };
    else if (values.oauthTenant.length > limits.oauthTenant || !/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(values.oauthTenant)) errors.oauthTenant = { key: 'error.oauthTenant.invalid' };
    if (!values.oauthClientId) errors.oauthClientId = { key: 'error.oauthClientId.required' };
    else if (values.oauthClientId.length > limits.oauthClientId || !/^[A-Za-z0-9._-]+$/.test(values.oauthClientId)) errors.oauthClientId = { key: 'error.oauthClientId.invalid' };
  }
  const typedSecret = text(microsoft ? raw.oauthClientSecret : google ? raw.oauthServiceAccountKey : '');
  const typedKey = google && typedSecret.trim() !== '' ? parseServiceAccountKey(typedSecret.trim()) : null;
  const oauthTenant = microsoft ? values.oauthTenant : '';
  const storedOAuth = context.storedOAuthSecret ?? null;
  // Google's « application » is the service account the key belongs to: the typed key's, or the stored one's.
  const oauthClientId = microsoft ? values.oauthClientId : google ? (typedKey?.ok ? typedKey.key.client_email : storedOAuth?.oauthClientId ?? '') : '';

  const towards = { host: host || values.host, port, security: values.security as Security, username: values.username, verifyCertificate: values.verifyCertificate };
  const secretField = microsoft ? 'oauthClientSecret' : 'oauthServiceAccountKey';
  const oauthChoice = chooseOAuthSecret({ authentication: values.authentication, typed: typedSecret, towards: { ...towards, authentication: values.authentication, oauthTenant, oauthClientId } }, storedOAuth);
  if (oauthChoice.kind === 'tooLong') errors[secretField] = { key: `error.${secretField}.tooLong`, params: { max: limits[secretField] } };
  else if (oauthChoice.kind === 'missing') errors[secretField] = { key: `error.${secretField}.required` };
  else if (oauthChoice.kind === 'retype') errors[secretField] = { key: `error.${secretField}.retype` };
  else if (typedKey && !typedKey.ok) errors.oauthServiceAccountKey = { key: typedKey.reason === 'json' ? 'error.oauthServiceAccountKey.json' : 'error.oauthServiceAccountKey.fields' };
  const oauthSecretChange = oauthChoice.kind === 'typed' ? oauthChoice.password : oauthChoice.kind === 'stored' ? undefined : null;
  const choice = choosePassword({ authentication: values.authentication, typed: password, clear: values.clearPassword, towards }, context.storedPassword);
  if (choice.kind === 'tooLong') errors.password = { key: 'error.password.tooLong', params: { max: limits.password } };
  else if (choice.kind === 'cleared' || choice.kind === 'missing') errors.password = { key: 'error.password.required' };
  else if (choice.kind === 'retype') errors.password = { key: 'error.password.retype' };
  // undefined keeps the stored password, null clears it.
  const passwordChange = choice.kind === 'typed' ? choice.password : choice.kind === 'stored' ? undefined : null;

  if (!(usageModes as readonly string[]).includes(values.usage)) errors.usage = { key: 'error.usage.invalid' };
  const departmentCodes = [...new Set(values.departments)];
  if (values.usage === 'custom') {
    if (departmentCodes.some((code) => !context.departmentCodes.includes(code))) {
      errors.departments = { key: 'error.departments.invalid' };
    } else if (departmentCodes.length === 0) errors.departments = { key: 'error.departments.required' };
  }

  const rateLimitPerMinute = values.rateLimitPerMinute === '' ? null : Number(values.rateLimitPerMinute);
  if (rateLimitPerMinute !== null && (!/^\d{1,6}$/.test(values.rateLimitPerMinute) || rateLimitPerMinute < 1 || rateLimitPerMinute > maxRateLimitPerMinute)) {
    errors.rateLimitPerMinute = { key: 'error.rateLimitPerMinute.invalid', params: { max: maxRateLimitPerMinute } };
  }

  if (values.signature.length > limits.signature) {
    errors.signature = { key: 'error.signature.tooLong', params: { max: limits.signature } };
  } else {
    // Never saved with something the sanitiser would take out: the form comes back cleaned, saying what went.
    const clean = sanitizeSignature(values.signature);
    if (clean.removed.length > 0) {
      errors.signature = { key: 'error.signature.cleaned', params: { removed: clean.removed.join(', ') } };
      values.signature = clean.html;
    }
  }

  const mismatches = errors.port || errors.security || errors.authentication ? [] : mismatchesOfValues(values);
  const stored = context.storedCombination;
  const alreadyConfirmed =
    stored && stored.port === port && stored.security === values.security && stored.authentication === values.authentication;
  const confirmedMismatches = alreadyConfirmed ? [] : mismatches;
  if (confirmedMismatches.length > 0 && !values.confirmCombination) errors.confirmCombination = { key: 'error.confirmCombination.required' };

  if (Object.keys(errors).length > 0) return { ok: false, values, errors, password: choice, oauthSecret: oauthChoice };
  return {
    ok: true,
    values,
    password: choice,
    oauthSecret: oauthChoice,
    value: {
      title: values.title,
      host,
      port,
      security: values.security as Security,
      authentication: values.authentication as Authentication,
      email: values.email,
      senderName: values.senderName,
      username: needsCredentials ? values.username : '',
      password: passwordChange,
      usage: values.usage as Usage,
      departmentCodes: values.usage === 'custom' ? departmentCodes : [],
      verifyCertificate: values.verifyCertificate,
      rateLimitPerMinute,
      signature: values.signature,
      confirmedMismatches,
      oauthTenant,
      oauthClientId,
      oauthSecret: oauthSecretChange,
    },
  };
}
