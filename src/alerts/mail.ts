import { formatDateTime, isLocale, translator, type Locale, type Translate } from '../i18n/index.js';
import { replyWords } from '../outbox/own-replies.js';
import { escapeHtml } from '../web/escape.js';
import { storedFailureWords } from '../smtp/diagnosis.js';
import type { AlertEvent } from './store.js';

export interface AlertMail {
  subject: string;
  text: string;
  html: string;
}

const maxLines = 30;

export function localeOf(value: string | null): Locale {
  return isLocale(value) ? value : 'fr';
}

/** The certificate's news in words: the threshold crossed, an issuer change, or both. */
function certificateDetail(t: Translate, locale: Locale, p: AlertEvent['params']): string {
  const parts: string[] = [];
  const validTo = typeof p.validTo === 'string' ? formatDateTime(locale, new Date(p.validTo)) : '';
  if (p.threshold === 'expired') parts.push(t('certificate.expired', { at: validTo }));
  else if (p.threshold !== null && p.threshold !== undefined) {
    const days = Number(p.daysLeft);
    parts.push(days <= 0 ? t('certificate.expiringToday', { at: validTo }) : t('certificate.expiring', { days, at: validTo }));
  }
  if (typeof p.issuerChangedAt === 'string') {
    parts.push(t('certificate.issuerChanged', { at: formatDateTime(locale, new Date(p.issuerChangedAt)), previous: String(p.previousIssuer ?? ''), issuer: String(p.issuer ?? '') }));
  }
  return parts.join(' ');
}

function sentence(t: Translate, locale: Locale, event: AlertEvent): string {
  const p = event.params;
  const text = (value: unknown) => (value === null || value === undefined || value === '' ? t('alertMail.noError') : String(value));
  switch (event.kind) {
    case 'serverDown':
      return t('alertMail.event.serverDown', { title: text(p.title), until: formatDateTime(locale, new Date(String(p.until))), error: p.error ? storedFailureWords(String(p.error), t) : text(null) });
    case 'serverUp':
      return t('alertMail.event.serverUp', { title: text(p.title) });
    case 'departmentNoServer':
      return t('alertMail.event.departmentNoServer', { name: text(p.name) });
    case 'departmentRestored':
      return t('alertMail.event.departmentRestored', { name: text(p.name), server: text(p.server) });
    case 'messageFailed':
      return t('alertMail.event.messageFailed', { subject: text(p.subject), department: text(p.department), reply: text(typeof p.reply === 'string' ? replyWords(p.reply, t) : p.reply) });
    case 'certificate':
      return t('alertMail.event.certificate', { title: text(p.title), detail: certificateDetail(t, locale, p) });
  }
}

/** Where the event's link goes: the server's page, the department's, the message in the send log. */
export function linkOf(publicUrl: string, event: AlertEvent): string {
  const p = event.params;
  if (event.kind === 'serverDown' || event.kind === 'serverUp' || event.kind === 'certificate') return `${publicUrl}/smtp-servers/${Number(p.serverId)}/edit`;
  if (event.kind === 'departmentNoServer' || event.kind === 'departmentRestored') return `${publicUrl}/departments/${encodeURIComponent(String(p.code))}`;
  return `${publicUrl}/messages/${encodeURIComponent(String(p.publicId))}`;
}

/** The one-line summary of an event, for the webhook's readers (chat tools show it as is). */
export function summaryOf(event: AlertEvent, locale: Locale = 'fr'): string {
  return sentence(translator(locale), locale, event);
}

/**
 * One mail for every event of this dispatch, in the recipient's language: those new since the last mail, then those
 * the hourly limit held back (said as such), each with its link; plain text and HTML.
 */
export function composeAlertMail(events: AlertEvent[], options: { locale: Locale; publicUrl: string }): AlertMail {
  const { locale, publicUrl } = options;
  const t = translator(locale);
  const fresh = events.filter((e) => e.mailState !== 'held');
  const held = events.filter((e) => e.mailState === 'held');
  const first = events[0]!;
  const short = t(`alertMail.short.${first.kind}`, Object.fromEntries(Object.entries(first.params).map(([k, v]) => [k, String(v ?? '')])));
  const subject = events.length === 1 ? t('alertMail.subject.one', { summary: short }) : t('alertMail.subject.many', { count: events.length });
  const lines = (list: AlertEvent[]) =>
    list.slice(0, maxLines).map((event) => ({ text: t('alertMail.at', { time: formatDateTime(locale, event.at), text: sentence(t, locale, event) }), link: linkOf(publicUrl, event) }));
  const more = (list: AlertEvent[]) => (list.length > maxLines ? t('alertMail.more', { count: list.length - maxLines }) : null);
  const sendLog = `${publicUrl}/messages?status=failed`;
  const account = `${publicUrl}/account/alerts`;
  const sections: { intro: string; list: AlertEvent[] }[] = [];
  if (fresh.length) sections.push({ intro: t('alertMail.intro'), list: fresh });
  if (held.length) sections.push({ intro: t('alertMail.heldIntro'), list: held });

  const textParts = [t('alertMail.greeting'), ''];
  for (const section of sections) {
    textParts.push(section.intro, '');
    for (const line of lines(section.list)) textParts.push(`- ${line.text}`, `  ${line.link}`);
    const extra = more(section.list);
    if (extra) textParts.push(extra);
    textParts.push('');
  }
  textParts.push(`${t('alertMail.sendLog')} : ${sendLog}`, '', t('alertMail.footer', { link: account }), '', '— Relais', '');

  const htmlSections = sections
    .map((section) => {
      const items = lines(section.list)
        .map((line) => `<li>${escapeHtml(line.text)} <a href="${escapeHtml(line.link)}">${escapeHtml(line.link)}</a></li>`)
        .join('\n');
      const extra = more(section.list);
      return `<p>${escapeHtml(section.intro)}</p>\n<ul>\n${items}\n</ul>${extra ? `\n<p>${escapeHtml(extra)}</p>` : ''}`;
    })
    .join('\n');
  const html = `<!doctype html>
<html lang="${locale}">
<head><meta charset="utf-8"><title>${escapeHtml(subject)}</title></head>
<body style="font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1d2330; line-height: 1.5;">
<p>${escapeHtml(t('alertMail.greeting'))}</p>
${htmlSections}
<p><a href="${escapeHtml(sendLog)}">${escapeHtml(t('alertMail.sendLog'))}</a></p>
<p style="font-size: 13px; color: #5b6475;">${escapeHtml(t('alertMail.footer', { link: account }))}</p>
<p>— Relais</p>
</body>
</html>
`;
  return { subject, text: textParts.join('\n'), html };
}
