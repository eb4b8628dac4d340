// The outbox writes a message's MIME tree in one go (writtenAtOnce): byte for byte what nodemailer's own build gives
// for the same tree, whatever the text, the headers and the parts.
import { randomBytes } from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import type Mail from 'nodemailer/lib/mailer';
import { simpleParser } from 'mailparser';
import t from 'tap';
import { composeMessage, writtenAtOnce } from '../src/outbox/compose.js';

const built = (options: Mail.Options, baseBoundary: string) => {
  const mail = new MailComposer(options).compile();
  (mail as unknown as { baseBoundary: string }).baseBoundary = baseBoundary;
  return new Promise<Buffer>((resolve, reject) => mail.build((err, raw) => (err ? reject(err) : resolve(raw))));
};

/** The same options composed twice, with the same boundaries: written at once, and built by nodemailer. */
async function both(options: Mail.Options) {
  const mail = new MailComposer({ ...options, disableFileAccess: true, disableUrlAccess: true }).compile();
  const atOnce = writtenAtOnce(mail);
  const reference = await built({ ...options, disableFileAccess: true, disableUrlAccess: true }, (mail as unknown as { baseBoundary: string }).baseBoundary);
  return { atOnce, reference };
}

const headers = { from: { name: 'Service Vente', address: 'vente@exemple.fr' }, to: 'client@exemple.fr', subject: 'Facture 1', messageId: '<m1@relais>', date: new Date('2026-12-04T10:00:00Z') };
const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(5000)]);
const logo = { cid: 'logo.abc@relais', filename: 'logo.png', content: randomBytes(300), contentType: 'image/png', contentDisposition: 'inline' as const };
const longLine = 'mot '.repeat(60) + 'é'.repeat(50);

const cases: [string, Mail.Options][] = [
  ['text only, ASCII', { ...headers, text: 'Bonjour,\n\nCordialement' }],
  ['html only', { ...headers, html: '<p>Bonjour</p>' }],
  ['text and html, accents', { ...headers, text: 'Facture n°1 — réglée', html: '<p>Facture n°1 — réglée</p>' }],
  ['long lines, spaces before line ends and at the end', { ...headers, text: `${longLine}  \n\t\nfin   `, html: `<p>${longLine}</p>   ` }],
  ['CRLF, lone CR, dots at line starts', { ...headers, text: 'a\r\nb\rc\n.\n..d\r\n', html: '<p>a</p>\r\n.\r\n' }],
  ['mostly non-Latin (base64 text)', { ...headers, subject: 'Счёт № 1 請求書', text: 'Здравствуйте, ваш счёт. 請求書をお送りします。', html: '<p>Здравствуйте 😀</p>' }],
  ['empty text beside html', { ...headers, text: '', html: '<p>x</p>' }],
  ['over 64 KB of text (the encoder’s slices)', { ...headers, text: `${'ligne accentuée é à ü, = signe égal \n'.repeat(2500)}  `, html: `<p>${'x'.repeat(70_000)}</p>` }],
  [
    'every header',
    {
      ...headers,
      from: { name: 'Service "Vente" — Zoé', address: 'vente@exemple.fr' },
      to: ['a@exemple.fr', 'Zoé Müller <zoe@exemple.fr>', 'x@bücher.de'],
      cc: ['c@exemple.fr'],
      bcc: ['b@exemple.fr'],
      replyTo: 'Réponses <r@exemple.fr>',
      subject: `Très longue ligne de sujet ${'avec des accents éàü '.repeat(8)}`,
      text: 't',
    },
  ],
  [
    'attachments: binary, text, empty, accented names',
    {
      ...headers,
      text: 'Ci-joint.',
      html: '<p>Ci-joint.</p>',
      attachments: [
        { filename: 'facturé n°1.pdf', contentType: 'application/pdf', content: pdf },
        { filename: 'lignes.csv', contentType: 'text/csv', content: Buffer.from('a;b\r\né;ü\r\n') },
        { filename: 'vide.txt', contentType: 'text/plain', content: Buffer.alloc(0) },
        { filename: 'données.bin', contentType: 'application/octet-stream', content: randomBytes(100_000) },
      ],
    },
  ],
  ['a logo inline (related) and an attachment', { ...headers, text: 'Bonjour', html: '<p>Bonjour <img src="cid:logo.abc@relais"></p>', attachments: [logo, { filename: 'a.pdf', contentType: 'application/pdf', content: pdf }] }],
  ['nothing but an empty attachment (a part that writes no byte, last)', { ...headers, attachments: [{ filename: 'vide.bin', contentType: 'application/octet-stream', content: Buffer.alloc(0) }] }],
  ['html only with a logo', { ...headers, html: '<img src="cid:logo.abc@relais">', attachments: [logo] }],
];

for (const [name, options] of cases) {
  t.test(name, async (t) => {
    const { atOnce, reference } = await both(options);
    t.ok(atOnce, 'written at once');
    t.equal(atOnce!.toString('latin1'), reference.toString('latin1'), 'the same bytes as nodemailer’s build');
  });
}

t.test('random texts: the same bytes as nodemailer’s build', async (t) => {
  const alphabet = ['a', 'é', ' ', '\t', '\n', '\r', '\r\n', '=', '.', '-', '😀', 'Ж', '<', '\u00a0', 'x'.repeat(80)];
  const randomText = () => Array.from({ length: Math.floor(Math.random() * 400) }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
  for (let i = 0; i < 300; i++) {
    const options = { ...headers, subject: randomText().slice(0, 200), text: randomText(), html: Math.random() < 0.5 ? randomText() : undefined };
    const { atOnce, reference } = await both(options);
    if (atOnce?.equals(reference) !== true) {
      t.fail('differs', { options });
      return;
    }
  }
  t.pass('300 random messages');
});

t.test('a content from a stream is left to nodemailer’s build', async (t) => {
  const { Readable } = await import('node:stream');
  const mail = new MailComposer({ ...headers, text: Readable.from(['a']) }).compile();
  t.equal(writtenAtOnce(mail), null);
});

t.test('composeMessage: what a mail reader reads', async (t) => {
  const composed = await composeMessage(
    { to: ['client@exemple.fr'], cc: [], bcc: ['b@exemple.fr'], replyTo: null, subject: 'Facture n°1', messageId: '<m1@relais>', pendingRecipients: null },
    { text: 'Bonjour', html: '<p>Bonjour</p>', attachments: [{ filename: 'f.pdf', contentType: 'application/pdf', content: pdf }] },
    { senderName: 'Service Vente', email: 'vente@exemple.fr', signature: '' },
    null,
  );
  t.same(composed.envelope, { from: 'vente@exemple.fr', to: ['client@exemple.fr', 'b@exemple.fr'] });
  const parsed = await simpleParser(composed.raw);
  t.equal(parsed.subject, 'Facture n°1');
  t.equal(parsed.messageId, '<m1@relais>');
  t.equal(parsed.text?.trim(), 'Bonjour');
  t.equal(parsed.html, '<p>Bonjour</p>');
  t.equal(parsed.attachments.length, 1);
  t.ok(parsed.attachments[0]!.content.equals(pdf), 'the attachment’s bytes');
  t.notOk(composed.raw.toString().includes('b@exemple.fr'), 'no Bcc header');
});

t.test('a tree written at once then built by nodemailer gives the same bytes both times', async (t) => {
  const mail = new MailComposer({ ...headers, text: 'é'.repeat(100), html: '<p>x</p>', attachments: [logo, { filename: 'a.pdf', contentType: 'application/pdf', content: pdf }] }).compile();
  const atOnce = writtenAtOnce(mail);
  const again = await new Promise<Buffer>((resolve, reject) => mail.build((err, raw) => (err ? reject(err) : resolve(raw))));
  t.ok(atOnce?.equals(again));
});
