import MailComposer from 'nodemailer/lib/mail-composer';
import type { RawMessage } from '../smtp/transports.js';
import type { ClaimedMessage, MessageContent, SendingServer } from './store.js';

/** A department's signature for one server: html and text added to the bodies, the logo as an inline `cid:` part. */
export interface Signature {
  html: string;
  text: string;
  attachments: { filename: string; contentType: string; content: Buffer; cid: string }[];
}

/** The server's signature and logo. Empty until the signature feature (src/signature/) replaces this one call. */
export function signatureFor(_server: SendingServer): Signature {
  return { html: '', text: '', attachments: [] };
}

function withHtmlSignature(html: string, signature: string): string {
  if (!signature) return html;
  const end = html.search(/<\/body>/i);
  return end < 0 ? `${html}\n${signature}` : `${html.slice(0, end)}${signature}\n${html.slice(end)}`;
}

/**
 * The message as it goes out through `server`, rebuilt from what was stored at each attempt: From the server's
 * sender, its signature and logo, the Message-ID fixed at acceptance, the Date of this attempt.
 */
export async function composeMessage(message: ClaimedMessage, content: MessageContent, server: SendingServer, now = new Date()): Promise<RawMessage> {
  const signature = signatureFor(server);
  const text = content.text === null ? null : signature.text ? `${content.text}\n\n-- \n${signature.text}` : content.text;
  const html = content.html === null ? null : withHtmlSignature(content.html, signature.html);
  const mail = new MailComposer({
    from: { name: server.senderName, address: server.email },
    to: message.to,
    cc: message.cc.length ? message.cc : undefined,
    bcc: message.bcc.length ? message.bcc : undefined,
    replyTo: message.replyTo ?? undefined,
    subject: message.subject,
    messageId: message.messageId,
    date: now,
    ...(text === null ? {} : { text }),
    ...(html === null ? {} : { html }),
    attachments: [
      ...content.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content })),
      ...signature.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: a.content, cid: a.cid, contentDisposition: 'inline' as const })),
    ],
    disableFileAccess: true,
    disableUrlAccess: true,
  }).compile();
  const envelope = mail.getEnvelope();
  const raw = await new Promise<Buffer>((resolve, reject) => mail.build((err, built) => (err ? reject(err) : resolve(built))));
  return { envelope: { from: envelope.from || server.email, to: envelope.to }, messageId: message.messageId, raw };
}
