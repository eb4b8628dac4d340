/**
 * What Relais may repeat of what a server said. Shared by the connection test, the confirmation send and (soon)
 * sending: an SMTP reply is kept parsed and short; anything else (an SSH banner, a database's greeting) is reported
 * as not SMTP, with only its first printable characters.
 */

/** How much of one reply line is kept. */
export const replyLineChars = 200;
/** How much of the greeting's first line the report keeps. */
export const bannerChars = 120;
/** How much of a non-SMTP service's words may be shown. */
export const notSmtpSampleChars = 60;
/** How much of an error's own message (nodemailer's, Node's) is kept. */
export const messageChars = 200;

// "250 ok", "250-more" or a bare "250": three digits then anything else ("123FAKE…") is not SMTP.
export const smtpLine = /^(\d{3})([ -]|$)(.*)$/;

/** The text without control or invisible characters, cut to `max` characters. */
export function printable(text: string, max: number): string {
  return [...text.replace(/\p{C}+/gu, ' ').replace(/\s+/g, ' ').trim()].slice(0, max).join('').trimEnd();
}

export type BoundedReply = { reply: string } | { notSmtp: string };

/**
 * A reply as received, reduced to what may be shown: its first `maxLines` SMTP lines, each printable and cut to
 * `replyLineChars`, and how many more there were. A line that is not SMTP makes the whole reply "not SMTP".
 */
export function boundedReply(raw: string, maxLines: number): BoundedReply {
  const lines = raw.split(/\r?\n/).filter((line) => line.trim() !== '');
  const foreign = lines.find((line) => !smtpLine.test(line));
  if (foreign !== undefined || lines.length === 0) return { notSmtp: printable(foreign ?? raw, notSmtpSampleChars) };
  const kept = lines.slice(0, maxLines).map((line) => {
    const [, code, separator, text] = smtpLine.exec(line)!;
    return `${code}${separator}${printable(text!, replyLineChars)}`;
  });
  const more = lines.length - kept.length;
  return { reply: more > 0 ? `${kept.join('\n')} (+${more})` : kept.join('\n') };
}
