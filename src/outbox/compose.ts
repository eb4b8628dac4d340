import MailComposer from 'nodemailer/lib/mail-composer';
import type { RawMessage } from '../smtp/transports.js';
import { signatureParts, withSignature, type StoredLogo } from '../signature/compose.js';
import type { Composition } from './sending-protocol.js';

/**
 * The message as it goes out through `server`, rebuilt from what was stored at each attempt: From the server's
 * sender, its signature and logo, the Message-ID fixed at acceptance, the Date of this attempt. The envelope goes to the
 * pending recipients only when some already have it; the headers (To, Cc; never Bcc) are the message's.
 */
export async function composeMessage(
  message: Composition['message'],
  content: Composition['content'],
  server: Composition['sender'],
  logo: StoredLogo | null,
  now = new Date(),
): Promise<RawMessage> {
  // Rebuilt at every attempt from the server used: its signature, its logo inline (bytes, never a URL or a path).
  const signature = signatureParts(server, logo);
  const signed = withSignature({ html: content.html ?? '', text: content.text ?? '' }, signature);
  const text = content.text === null ? null : signed.text;
  const html = content.html === null ? null : signed.html;
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
      ...(html === null ? [] : signature.attachments),
    ],
    disableFileAccess: true,
    disableUrlAccess: true,
  }).compile();
  const envelope = mail.getEnvelope();
  const raw = await new Promise<Buffer>((resolve, reject) => mail.build((err, built) => (err ? reject(err) : resolve(built))));
  return { envelope: { from: envelope.from || server.email, to: message.pendingRecipients ?? envelope.to }, messageId: message.messageId, raw };
}
