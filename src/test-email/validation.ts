import type { MessageKey } from '../i18n/index.js';
import type { OutgoingMessage } from '../outbox/types.js';
import { isValidEmail } from '../smtp-servers/validation.js';

export const testEmailFields = ['department', 'server', 'to', 'subject', 'text'] as const;
export type TestEmailField = (typeof testEmailFields)[number];
export type TestEmailValues = Record<TestEmailField, string>;
export type TestEmailErrors = Partial<Record<TestEmailField, { key: MessageKey; params?: Record<string, string | number> }>>;

export const testEmailLimits = { subject: 200, text: 10_000 } as const;

export interface TestEmailChoices {
  /** Active departments' codes. */
  departments: readonly string[];
  servers: readonly number[];
}

export type TestEmailResult =
  | { ok: true; message: OutgoingMessage; serverId: number | undefined }
  | { ok: false; values: TestEmailValues; errors: TestEmailErrors };

function text(raw: unknown): string {
  return typeof raw === 'string' ? raw : '';
}

export function testEmailValuesFrom(raw: Record<string, unknown>): TestEmailValues {
  return {
    department: text(raw.department).trim(),
    server: text(raw.server).trim(),
    to: text(raw.to).trim(),
    subject: text(raw.subject).trim(),
    text: text(raw.text).replace(/\r\n/g, '\n'),
  };
}

/** The test-send form: a department (or also one of its servers), a recipient, and an optional subject and text. */
export function validateTestEmail(raw: Record<string, unknown>, choices: TestEmailChoices, defaults: { subject: string; text: string }): TestEmailResult {
  const values = testEmailValuesFrom(raw);
  const errors: TestEmailErrors = {};
  if (!values.department) errors.department = { key: 'testEmail.error.department' };
  else if (!choices.departments.includes(values.department)) errors.department = { key: 'testEmail.error.departmentUnknown' };
  if (values.server && !choices.servers.includes(Number(values.server))) errors.server = { key: 'testEmail.error.server' };
  if (!values.to) errors.to = { key: 'testEmail.error.toRequired' };
  else if (!isValidEmail(values.to)) errors.to = { key: 'testEmail.error.toInvalid' };
  if ([...values.subject].length > testEmailLimits.subject) errors.subject = { key: 'testEmail.error.tooLong', params: { max: testEmailLimits.subject } };
  if ([...values.text].length > testEmailLimits.text) errors.text = { key: 'testEmail.error.tooLong', params: { max: testEmailLimits.text } };
  if (Object.keys(errors).length) return { ok: false, values, errors };
  return {
    ok: true,
    serverId: values.server ? Number(values.server) : undefined,
    message: {
      department: values.department,
      to: [values.to],
      cc: [],
      bcc: [],
      replyTo: null,
      subject: values.subject || defaults.subject,
      text: values.text.trim() ? values.text : defaults.text,
      html: null,
      attachments: [],
    },
  };
}
