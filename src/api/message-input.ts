import { domainToASCII } from 'node:url';
import addressparser from 'nodemailer/lib/addressparser';
import type { OutgoingAttachment, OutgoingMessage } from '../outbox/types.js';
import { isValidEmail } from '../smtp-servers/validation.js';
import { ApiProblem } from './problem.js';

/** Attachments, decoded, at most this much in all. */
export const attachmentsMaxBytes = 10 * 1024 * 1024;
/** Recipients (to, cc and bcc together) in one message. */
export const recipientsMax = 100;

/** The body as the route's JSON schema lets it through: types and unknown fields are already checked. */
export interface MessageBody {
  department: string;
  to: string | string[];
  cc?: string | string[];
  bcc?: string | string[];
  replyTo?: string;
  subject: string;
  text?: string;
  html?: string;
  attachments?: { filename: string; contentType: string; contentBase64: string }[];
}

const invalid = (field: string, reason: string) => new ApiProblem('invalid-request', 400, `${field} ${reason}`, { field, reason });
const lineBreak = /[\r\n]/;
const base64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** An internationalised domain is sent in its ASCII (punycode) form; the local part must be ASCII (no SMTPUTF8). */
function asciiAddress(address: string): string {
  const at = address.lastIndexOf('@');
  const domain = address.slice(at + 1);
  if (at < 1 || !/[^\x00-\x7f]/.test(domain)) return address;
  const ascii = /[\s/]/.test(domain) ? '' : domainToASCII(domain);
  return ascii ? `${address.slice(0, at)}@${ascii}` : address;
}

/** `<` outside quoted text: one per mailbox written with brackets. */
function bracketsIn(entry: string): number {
  return entry.replace(/"(?:[^"\\]|\\.)*"/g, '').split('<').length - 1;
}

/** One address field: a string of one or more addresses ("Name <a@b.fr>, c@d.fr") or a list of them, each checked. */
function addresses(value: string | string[] | undefined, field: string): string[] {
  if (value === undefined) return [];
  const list = typeof value === 'string' ? [value] : value;
  const parsed: string[] = [];
  list.forEach((entry, i) => {
    const where = typeof value === 'string' ? field : `${field}[${i}]`;
    if (lineBreak.test(entry)) throw invalid(where, 'must not contain a line break');
    const mailboxes = addressparser(entry, { flatten: true });
    // "<a@b.fr> <c@d.fr>" reads as one address named "c@d.fr": a comma was forgotten, and a recipient with it.
    // So does "a@b.fr c@d.fr" (a name unquoted that is an address).
    const unquotedAddressName = !entry.includes('"') && mailboxes.some((mailbox) => mailbox.name?.includes('@'));
    if (bracketsIn(entry) > mailboxes.length || unquotedAddressName) throw invalid(where, 'holds addresses that must be separated by commas');
    for (const mailbox of mailboxes) {
      const address = mailbox.address ? asciiAddress(mailbox.address) : '';
      if (!address || !isValidEmail(address)) throw invalid(where, `holds an address that is not valid: "${mailbox.address || entry}"`);
      parsed.push(mailbox.name ? `${JSON.stringify(mailbox.name)} <${address}>` : address);
    }
  });
  return parsed;
}

/** The message as the outbox takes it: addresses parsed and checked, attachments decoded and counted. */
export function outgoingMessageOf(body: MessageBody): OutgoingMessage {
  const to = addresses(body.to, 'to');
  if (to.length === 0) throw invalid('to', 'must hold at least one address');
  const cc = addresses(body.cc, 'cc');
  const bcc = addresses(body.bcc, 'bcc');
  if (to.length + cc.length + bcc.length > recipientsMax) throw invalid('to', `with cc and bcc must hold at most ${recipientsMax} addresses`);
  const replyTo = body.replyTo === undefined ? [] : addresses(body.replyTo, 'replyTo');
  if (replyTo.length > 1) throw invalid('replyTo', 'must be one address');
  if (lineBreak.test(body.subject)) throw invalid('subject', 'must not contain a line break');
  if (!body.subject.trim()) throw invalid('subject', 'must not be blank');
  if (!body.text && !body.html) throw invalid('text', 'or html is required');

  let total = 0;
  const attachments: OutgoingAttachment[] = (body.attachments ?? []).map((attachment, i) => {
    const encoded = attachment.contentBase64.replace(/\s+/g, '');
    if (encoded.length % 4 === 1 || !base64.test(encoded)) throw invalid(`attachments[${i}].contentBase64`, 'must be base64');
    if (lineBreak.test(attachment.filename)) throw invalid(`attachments[${i}].filename`, 'must not contain a line break');
    const content = Buffer.from(encoded, 'base64');
    total += content.length;
    if (total > attachmentsMaxBytes) {
      throw new ApiProblem('too-large', 413, `the attachments exceed ${attachmentsMaxBytes} bytes in all`, { field: 'attachments', reason: `must be at most ${attachmentsMaxBytes} bytes in all, decoded` });
    }
    return { filename: attachment.filename, contentType: attachment.contentType.toLowerCase(), content };
  });

  return {
    department: body.department,
    to,
    cc,
    bcc,
    replyTo: replyTo[0] ?? null,
    subject: body.subject,
    text: body.text || null,
    html: body.html || null,
    attachments,
  };
}
