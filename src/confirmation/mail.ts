import { formatDateTime, translator, type Locale } from '../i18n/index.js';
import { escapeHtml } from '../web/escape.js';

export interface ConfirmationMailInput {
  server: { title: string; host: string; port: number; email: string; senderName: string };
  link: string;
  expiresAt: Date;
  locale: Locale;
}

export interface ConfirmationMail {
  subject: string;
  text: string;
  html: string;
}

/** The message that proves the address: in the admin's language, plain text and HTML, the link in both. */
export function composeConfirmationMail({ server, link, expiresAt, locale }: ConfirmationMailInput): ConfirmationMail {
  const t = translator(locale);
  const params = { title: server.title, host: server.host, port: server.port, email: server.email, expires: formatDateTime(locale, expiresAt) };
  const subject = t('mail.confirmation.subject', params);
  const paragraphs = [t('mail.confirmation.intro', params), t('mail.confirmation.action', params)];
  const after = [t('mail.confirmation.validity', params), t('mail.confirmation.ignore', params)];
  const text = [t('mail.confirmation.greeting'), '', ...paragraphs, '', link, '', ...after, '', '— Relais', ''].join('\n');
  const html = `<!doctype html>
<html lang="${locale}">
<head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body style="font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1d2330; line-height: 1.5;">
<p>${escapeHtml(t('mail.confirmation.greeting'))}</p>
${paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n')}
<p><a href="${escapeHtml(link)}" style="display: inline-block; padding: 10px 18px; background: #1f5fbf; color: #ffffff; border-radius: 6px; text-decoration: none;">${escapeHtml(t('mail.confirmation.button'))}</a></p>
<p style="font-size: 13px; color: #5b6475;">${escapeHtml(t('mail.confirmation.linkFallback'))}<br><a href="${escapeHtml(link)}">${escapeHtml(link)}</a></p>
${after.map((p) => `<p style="font-size: 13px; color: #5b6475;">${escapeHtml(p)}</p>`).join('\n')}
<p>— Relais</p>
</body>
</html>
`;
  return { subject, text, html };
}
