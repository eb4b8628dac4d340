import type { Transform } from 'node:stream';
import * as base64 from 'nodemailer/lib/base64';
import MailComposer from 'nodemailer/lib/mail-composer';
import MimeNode from 'nodemailer/lib/mime-node';
import * as qp from 'nodemailer/lib/qp';
import type { RawMessage } from '../smtp/transports.js';
import { signatureParts, withSignature, type StoredLogo } from '../signature/compose.js';
import type { Composition } from './sending-protocol.js';

// A node normalizes a header's name at every get and set of it, with three regular expressions: some forty times a
// message for the same dozen names. The name alone decides the result, so each is worked out once.
const headerKeys = MimeNode.prototype as unknown as { _normalizeHeaderKey(key: unknown): string };
const normalizeHeaderKey = headerKeys._normalizeHeaderKey;
const normalizedHeaderKeys = new Map<string, string>();
headerKeys._normalizeHeaderKey = function (key: unknown) {
  if (typeof key !== 'string') return normalizeHeaderKey.call(this, key);
  let normalized = normalizedHeaderKeys.get(key);
  if (normalized === undefined) {
    normalized = normalizeHeaderKey.call(this, key);
    if (normalizedHeaderKeys.size < 256) normalizedHeaderKeys.set(key, normalized);
  }
  return normalized;
};

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
  const raw = writtenAtOnce(mail) ?? (await new Promise<Buffer>((resolve, reject) => mail.build((err, built) => (err ? reject(err) : resolve(built)))));
  return { envelope: { from: envelope.from || server.email, to: message.pendingRecipients ?? envelope.to }, messageId: message.messageId, raw };
}

/** What MimeNode keeps of a node and its types leave out. */
type TreeNode = MimeNode & { _raw?: unknown };

/**
 * The bytes `mail.build()` gives, written in one go: each node's headers are nodemailer's own (`buildHeaders`), its
 * body through nodemailer's encoder, the parts laid out as its stream lays them out. Its stream spends a pipeline and an
 * abort signal per part, most of a message's composing. Null for a tree this does not write (content from a stream, or
 * pre-built), or an encoder that did not finish at once: that one is built as nodemailer builds it.
 */
export function writtenAtOnce(root: MimeNode): Buffer | null {
  if (!writable(root as TreeNode)) return null;
  const parts: Buffer[] = [];
  const write = (node: TreeNode): boolean => {
    const encoding = node.getTransferEncoding();
    parts.push(Buffer.from(`${node.buildHeaders()}\r\n\r\n`));
    const content = node.content as string | Buffer | undefined;
    if (content) {
      if (encoding === 'base64' || encoding === 'quoted-printable') {
        const encoded = encodedAtOnce(encoding === 'base64' ? new base64.Encoder() : new qp.Encoder(), content);
        if (!encoded) return false;
        parts.push(encoded);
      } else parts.push(Buffer.from(content));
    }
    if (!node.multipart) return true;
    for (const [i, child] of node.childNodes.entries()) {
      parts.push(Buffer.from(`${i > 0 ? '\r\n' : ''}--${node.boundary}\r\n`));
      if (!write(child as TreeNode)) return false;
    }
    parts.push(Buffer.from(`\r\n--${node.boundary}--\r\n`));
    return true;
  };
  if (!write(root as TreeNode)) return null;
  // As its stream ends: on a line break (its last byte written, an empty part writes none).
  const last = parts.filter((part) => part.length > 0).at(-1)?.at(-1);
  if (last !== 0x0a) parts.push(Buffer.from(last === 0x0d ? '\n' : '\r\n'));
  return Buffer.concat(parts);
}

/** The encoder's whole output, when it is written at once (its stream calls back synchronously); else null. */
function encodedAtOnce(encoder: Transform, content: string | Buffer): Buffer | null {
  let flushed = false;
  encoder.once('prefinish', () => (flushed = true));
  encoder.end(content);
  // Each read takes what is waiting and lets the encoder go on past its buffer's limit.
  const chunks: Buffer[] = [];
  for (let chunk: Buffer | null; (chunk = encoder.read() as Buffer | null) !== null; ) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  if (!flushed) {
    encoder.destroy();
    return null;
  }
  return Buffer.concat(chunks);
}

function writable(node: TreeNode): boolean {
  if (node._raw) return false;
  const content = node.content;
  if (content !== undefined && typeof content !== 'string' && !Buffer.isBuffer(content)) return false;
  // A lone CR or LF outside text is data its quoted-printable keeps apart: not written here.
  if (node.getTransferEncoding() === 'quoted-printable' && !/^\s*text\//i.test(String(node.getHeader('Content-Type') ?? ''))) return false;
  return node.childNodes.every((child) => writable(child as TreeNode));
}
