import type { MessageKey, Translate } from '../i18n/index.js';

/** What Relais writes as a message's last reply where no server said anything; the pages say it in the reader's words. */
export const ownReplies = {
  noUsableServer: 'no usable server',
  purged: 'purged',
  // Within a reply: "250 Queued; refused: a@b.fr (550 No such user)", "refused: a@b.fr (550 …); delivered to the others".
  refused: 'refused:',
  othersHaveIt: 'delivered to the other recipients',
} as const;

const wordsOf = new Map<string, MessageKey>([
  [ownReplies.noUsableServer, 'sendLog.reply.noUsableServer'],
  [ownReplies.purged, 'sendLog.reply.purged'],
]);

/** A last reply as a page shows it: a server's words as they came, Relais's own in the reader's language. */
export function replyWords(reply: string | null | undefined, t: Translate): string {
  if (!reply) return '';
  const key = wordsOf.get(reply);
  if (key) return t(key);
  if (!reply.includes(ownReplies.refused)) return reply;
  // Relais's words around the servers' own: at the start, or after a server's reply and "; ".
  return reply
    .replace(new RegExp(`(^|; )${ownReplies.refused} `), (_, before: string) => `${before}${t('sendLog.reply.refused')} `)
    .replace(new RegExp(`; ${ownReplies.othersHaveIt}$`), `; ${t('sendLog.reply.othersHaveIt')}`);
}
