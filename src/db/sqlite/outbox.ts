import type BetterSqlite3 from 'better-sqlite3';
import { and, asc, count, desc, eq, gt, gte, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import { acceptedSummaryOf, claimedOf, detailOf, type ClaimedRow, doneStatuses, summaryOf, waitingStatuses } from '../../outbox/rows.js';
import type { AcceptanceLease, NewOutboxMessage, OutboxStore, Settlement } from '../../outbox/store.js';
import type { MessageListQuery } from '../../outbox/types.js';
import { UniqueViolation } from '../errors.js';
import { likePattern } from '../like.js';
import type { Db } from './client.js';
import { createSqliteDashboardCounters } from './dashboard.js';
import { isUniqueViolation } from './errors.js';
import { outboxAttachments, outboxAttempts, outboxMessages as m, smtpSendSlots, smtpServers } from './schema.js';
import type { WriteLock } from './write-lock.js';

const summaryColumns = {
  publicId: m.publicId,
  status: m.status,
  departmentCode: m.departmentCode,
  toAddresses: m.toAddresses,
  subject: m.subject,
  messageId: m.messageId,
  acceptedAt: m.acceptedAt,
  dueAt: m.dueAt,
  attemptCount: m.attemptCount,
  lastReply: m.lastReply,
  lastServerId: m.lastServerId,
  lastServerTitle: m.lastServerTitle,
};

const detailColumns = { ...summaryColumns, id: m.id, ccAddresses: m.ccAddresses, bccAddresses: m.bccAddresses, replyTo: m.replyTo, pendingRecipients: m.pendingRecipients };

/** The log's filters as one condition (none: undefined). */
function whereOf(query: MessageListQuery): SQL | undefined {
  const conditions: SQL[] = [];
  if (query.status) conditions.push(eq(m.status, query.status));
  if (query.retried) conditions.push(gt(m.roundCount, 0));
  if (query.department) conditions.push(eq(m.departmentCode, query.department));
  else if (query.departments) conditions.push(query.departments.length ? inArray(m.departmentCode, [...query.departments]) : sql`1 = 0`);
  if (query.serverId !== undefined) conditions.push(eq(m.lastServerId, query.serverId));
  if (query.since) conditions.push(gte(m.acceptedAt, query.since));
  if (query.until) conditions.push(lt(m.acceptedAt, query.until));
  if (query.q) conditions.push(sql`${m.searchText} LIKE ${likePattern(query.q)} ESCAPE '\\'`);
  return conditions.length ? and(...conditions) : undefined;
}

export function createSqliteOutboxStore(db: Db, sqlite: BetterSqlite3.Database, lock: WriteLock): OutboxStore {
  // better-sqlite3 nests it as a savepoint inside stores.transaction's BEGIN.
  const atomically = <T>(fn: () => T): Promise<T> => lock.run(() => sqlite.transaction(fn)());
  const $ = (name: string) => sql.placeholder(name);
  const dashboard = createSqliteDashboardCounters(sqlite);
  // Prepared once: a busy outbox runs these for every message, and preparing costs more than running them.
  // What is stored is known: the summary is made from it rather than read back (see acceptedSummaryOf).
  const insertMessage = sqlite.prepare(`
    INSERT INTO outbox_messages (public_id, department_code, pinned_server_id, origin_kind, origin_id, origin_name, to_addresses,
      cc_addresses, bcc_addresses, reply_to, subject, text_body, html_body, message_id, status, due_at, idempotency_key, body_hash,
      search_text, accepted_at, updated_at, lease_owner)
    VALUES (@publicId, @departmentCode, @pinnedServerId, @originKind, @originId, @originName, @toAddresses, @ccAddresses, @bccAddresses,
      @replyTo, @subject, @textBody, @htmlBody, @messageId, CASE WHEN @leaseOwner IS NULL THEN 'queued' ELSE 'sending' END,
      coalesce(@leaseUntil, @acceptedAt), @idempotencyKey, @bodyHash, @searchText, @acceptedAt, @acceptedAt, @leaseOwner)`);
  const bodiesOf = db.select({ text: m.textBody, html: m.htmlBody, purgedAt: m.purgedAt }).from(m).where(eq(m.id, $('id'))).prepare();
  const attachmentsOf = db
    .select({ filename: outboxAttachments.filename, contentType: outboxAttachments.contentType, content: outboxAttachments.content })
    .from(outboxAttachments)
    .where(eq(outboxAttachments.messageId, $('id')))
    .orderBy(asc(outboxAttachments.position))
    .prepare();
  const settleMessage = sqlite.prepare(`
    UPDATE outbox_messages SET status = @status, due_at = @dueAt, lease_owner = NULL, attempt_count = @attemptCount, round_count = @roundCount,
      tried_server_ids = @triedServerIds, sticky_server_id = @stickyServerId, pending_recipients = @pendingRecipients,
      refused_recipients = @refusedRecipients, last_server_id = CASE WHEN @lastServerTitle IS NULL THEN last_server_id ELSE @lastServerId END, last_server_title = coalesce(@lastServerTitle, last_server_title),
      last_reply = CASE WHEN @lastServerTitle IS NULL THEN coalesce(@lastReply, last_reply) ELSE @lastReply END, sent_at = @sentAt, updated_at = @now
    WHERE id = @id AND lease_owner = @owner AND status = 'sending'`);
  // Only waiting and leased messages have a due_at: the index on it alone finds the next ones, in order. `@limit + 0`:
  // SQLite plans again at each run a statement whose LIMIT is a bare parameter.
  const claimDue = sqlite.prepare(`
    UPDATE outbox_messages SET status = 'sending', lease_owner = @owner, due_at = @leaseUntil, updated_at = @now
    WHERE id IN (SELECT id FROM outbox_messages WHERE due_at <= @now ORDER BY due_at LIMIT @limit + 0)
    RETURNING id, public_id AS publicId, department_code AS departmentCode, pinned_server_id AS pinnedServerId, to_addresses AS toAddresses,
      cc_addresses AS ccAddresses, bcc_addresses AS bccAddresses, reply_to AS replyTo, subject, message_id AS messageId,
      attempt_count AS attemptCount, round_count AS roundCount, tried_server_ids AS triedServerIds, sticky_server_id AS stickyServerId,
      pending_recipients AS pendingRecipients, refused_recipients AS refusedRecipients, accepted_at AS acceptedAt, text_body AS text, html_body AS html, purged_at AS purgedAt`);
  const insertAttempt = sqlite.prepare(`
    INSERT INTO outbox_attempts (message_id, at, server_id, server_title, outcome, reply, duration_ms)
    VALUES (@messageId, @at, @serverId, @serverTitle, @outcome, @reply, @durationMs)`);

  const paramsOf = (message: NewOutboxMessage, lease: AcceptanceLease | null = null) => ({
    leaseOwner: lease?.owner ?? null,
    leaseUntil: lease?.until.getTime() ?? null,
    publicId: message.publicId,
    departmentCode: message.department,
    pinnedServerId: message.pinnedServerId,
    originKind: message.origin.kind,
    originId: message.origin.id,
    originName: message.origin.name,
    toAddresses: JSON.stringify(message.to),
    ccAddresses: JSON.stringify(message.cc),
    bccAddresses: JSON.stringify(message.bcc),
    replyTo: message.replyTo,
    subject: message.subject,
    textBody: message.text,
    htmlBody: message.html,
    messageId: message.messageId,
    idempotencyKey: message.idempotencyKey,
    bodyHash: message.bodyHash,
    searchText: message.searchText,
    acceptedAt: message.acceptedAt.getTime(),
  });

  function settleOne(id: number, owner: string, s: Settlement, now: Date): boolean {
    const result = settleMessage.run({
      id,
      owner,
      status: s.status,
      dueAt: s.dueAt?.getTime() ?? null,
      attemptCount: s.attemptCount,
      roundCount: s.roundCount,
      triedServerIds: JSON.stringify(s.triedServerIds),
      stickyServerId: s.stickyServerId,
      pendingRecipients: s.pendingRecipients === null ? null : JSON.stringify(s.pendingRecipients),
      refusedRecipients: s.refusedRecipients === null ? null : JSON.stringify(s.refusedRecipients),
      lastServerId: s.lastServerId,
      lastServerTitle: s.lastServerTitle,
      lastReply: s.lastReply,
      sentAt: s.sentAt?.getTime() ?? null,
      now: now.getTime(),
    });
    if (result.changes === 0) return false;
    for (const a of s.attempts) {
      insertAttempt.run({ messageId: id, at: a.at.getTime(), serverId: a.serverId, serverTitle: a.serverTitle, outcome: a.outcome, reply: a.reply, durationMs: a.durationMs });
    }
    return true;
  }

  return {
    async insert(message) {
      try {
        return await atomically(() => {
          const id = Number(insertMessage.run(paramsOf(message)).lastInsertRowid);
          if (message.attachments.length) {
            db.insert(outboxAttachments)
              .values(message.attachments.map((a, position) => ({ messageId: id, position, filename: a.filename, contentType: a.contentType, content: a.content })))
              .run();
          }
          return acceptedSummaryOf(message);
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new UniqueViolation('idempotency_key', err);
        throw err;
      }
    },

    async insertMany(messages, lease) {
      return atomically(() =>
        messages.map((message, i) => {
          const leased = lease !== null && i < lease.count;
          const id = Number(insertMessage.run(paramsOf(message, leased ? lease : null)).lastInsertRowid);
          return { id, summary: acceptedSummaryOf(message, leased) };
        }),
      );
    },

    async findByIdempotencyKey(originKind, originId, key) {
      const row = db
        .select({ ...summaryColumns, bodyHash: m.bodyHash })
        .from(m)
        .where(and(eq(m.originKind, originKind), eq(m.originId, originId), eq(m.idempotencyKey, key)))
        .get();
      return row ? { message: summaryOf(row), bodyHash: row.bodyHash } : null;
    },

    async find(publicId) {
      const row = db.select(detailColumns).from(m).where(eq(m.publicId, publicId)).get();
      if (!row) return null;
      const attempts = db
        .select({ at: outboxAttempts.at, serverId: outboxAttempts.serverId, serverTitle: outboxAttempts.serverTitle, outcome: outboxAttempts.outcome, reply: outboxAttempts.reply, durationMs: outboxAttempts.durationMs })
        .from(outboxAttempts)
        .where(eq(outboxAttempts.messageId, row.id))
        .orderBy(asc(outboxAttempts.id))
        .all();
      return detailOf(row, attempts);
    },

    async page(query, perPage) {
      const where = whereOf(query);
      const total = db.select({ n: count() }).from(m).where(where).get()?.n ?? 0;
      const pages = Math.max(1, Math.ceil(total / perPage));
      const page = Math.min(Math.max(1, query.page ?? 1), pages);
      const rows = db
        .select(summaryColumns)
        .from(m)
        .where(where)
        .orderBy(desc(m.acceptedAt), desc(m.id))
        .limit(perPage)
        .offset((page - 1) * perPage)
        .all();
      return { rows: rows.map(summaryOf), total, page, pages, perPage };
    },

    async countFailedSince(since) {
      return db.select({ n: count() }).from(m).where(and(eq(m.status, 'failed'), gte(m.updatedAt, since))).get()?.n ?? 0;
    },

    async *batches(query, batchSize) {
      let after: { acceptedAt: Date; id: number } | null = null;
      for (;;) {
        const from: { acceptedAt: Date; id: number } | null = after;
        const keyset: SQL | undefined = from ? or(lt(m.acceptedAt, from.acceptedAt), and(eq(m.acceptedAt, from.acceptedAt), lt(m.id, from.id))) : undefined;
        const rows = db
          .select({ ...summaryColumns, id: m.id })
          .from(m)
          .where(and(whereOf(query), keyset))
          .orderBy(desc(m.acceptedAt), desc(m.id))
          .limit(batchSize)
          .all();
        if (rows.length === 0) return;
        yield rows.map(summaryOf);
        if (rows.length < batchSize) return;
        const last: { acceptedAt: Date; id: number } = rows[rows.length - 1]!;
        after = { acceptedAt: last.acceptedAt, id: last.id };
      }
    },

    async requeue(publicId, now) {
      return atomically(() => {
        const row = db
          .update(m)
          // Its pending recipients stay: those who received it are not sent it again.
          .set({ status: 'queued', dueAt: now, roundCount: 0, triedServerIds: '[]', stickyServerId: null, refusedRecipients: null, updatedAt: now })
          .where(and(eq(m.publicId, publicId), eq(m.status, 'failed'), isNull(m.purgedAt)))
          .returning({ id: m.id })
          .get();
        if (row) dashboard.recordRequeued(row.id);
        return row !== undefined;
      });
    },

    async cancel(publicId, now) {
      return lock.run(() => {
        const result = db
          .update(m)
          .set({ status: 'cancelled', dueAt: null, updatedAt: now })
          .where(and(eq(m.publicId, publicId), inArray(m.status, [...waitingStatuses])))
          .run();
        return result.changes > 0;
      });
    },

    async claim(owner, now, leaseUntil, limit) {
      // One statement under the write lock: the rows it picks are leased before anyone else can read them as due.
      const rows = await lock.run(() => claimDue.all({ owner, now: now.getTime(), leaseUntil: leaseUntil.getTime(), limit }) as (Omit<ClaimedRow, 'acceptedAt'> & { acceptedAt: number })[]);
      return rows.map((row) => claimedOf({ ...row, acceptedAt: new Date(row.acceptedAt) }, attachmentsOf.all({ id: row.id })));
    },

    async contentOf(id) {
      const row = bodiesOf.get({ id });
      const attachments = attachmentsOf.all({ id });
      return { text: row?.text ?? null, html: row?.html ?? null, attachments, purged: !row || row.purgedAt !== null };
    },

    async settle(id, owner, s, now) {
      return atomically(() => {
        const kept = settleOne(id, owner, s, now);
        if (kept) dashboard.recordSettled([id]);
        return kept;
      });
    },

    async settleMany(owner, settlements, now) {
      return atomically(() => {
        const kept = settlements.map(({ id, settlement }) => settleOne(id, owner, settlement, now));
        dashboard.recordSettled(settlements.filter((_, i) => kept[i]).map(({ id }) => id));
        return kept;
      });
    },

    async handBack(owner, now) {
      return lock.run(() => db.update(m).set({ status: 'queued', leaseOwner: null, dueAt: now, updatedAt: now }).where(and(eq(m.leaseOwner, owner), eq(m.status, 'sending'))).run().changes);
    },

    async sendingServer(serverId) {
      const row = db
        .select({
          id: smtpServers.id,
          title: smtpServers.title,
          host: smtpServers.host,
          port: smtpServers.port,
          security: smtpServers.security,
          authentication: smtpServers.authentication,
          email: smtpServers.email,
          senderName: smtpServers.senderName,
          username: smtpServers.username,
          passwordCiphertext: smtpServers.passwordCiphertext,
          oauthTenant: smtpServers.oauthTenant,
          oauthClientId: smtpServers.oauthClientId,
          oauthSecretCiphertext: smtpServers.oauthSecretCiphertext,
          verifyCertificate: smtpServers.verifyCertificate,
          signature: smtpServers.signature,
          active: smtpServers.active,
          confirmationStatus: smtpServers.confirmationStatus,
          version: smtpServers.version,
          rateLimitPerMinute: smtpServers.rateLimitPerMinute,
        })
        .from(smtpServers)
        .where(eq(smtpServers.id, serverId))
        .get();
      return row ?? null;
    },

    async serverSucceeded(serverId, now) {
      // Written only when there is something to clear, or about once a second: not a write per message on a busy server.
      await lock.run(() =>
        db
          .update(smtpServers)
          .set({ consecutiveFailures: 0, downUntil: null, lastSuccessAt: now })
          .where(
            and(
              eq(smtpServers.id, serverId),
              or(sql`${smtpServers.consecutiveFailures} > 0`, sql`${smtpServers.downUntil} IS NOT NULL`, isNull(smtpServers.lastSuccessAt), lt(smtpServers.lastSuccessAt, new Date(now.getTime() - 1000))),
            ),
          )
          .run(),
      );
    },

    async serverFailed(serverId, now, error, threshold, downUntil) {
      await lock.run(() =>
        db
          .update(smtpServers)
          .set({
            consecutiveFailures: sql`${smtpServers.consecutiveFailures} + 1`,
            lastErrorAt: now,
            lastError: error,
            downUntil: sql`CASE WHEN ${smtpServers.consecutiveFailures} + 1 >= ${threshold} THEN ${downUntil.getTime()} ELSE ${smtpServers.downUntil} END`,
          })
          .where(eq(smtpServers.id, serverId))
          .run(),
      );
    },

    async reserveSlot(serverId, windowStart, limit) {
      return lock.run(() => {
        const row = db
          .insert(smtpSendSlots)
          .values({ serverId, windowStart, used: 1 })
          .onConflictDoUpdate({ target: [smtpSendSlots.serverId, smtpSendSlots.windowStart], set: { used: sql`${smtpSendSlots.used} + 1` }, setWhere: sql`${smtpSendSlots.used} < ${limit}` })
          .returning({ used: smtpSendSlots.used })
          .get();
        return row !== undefined && row.used <= limit;
      });
    },

    async purgeBodies(before, now) {
      return atomically(() => {
        const old = db
          .select({ id: m.id })
          .from(m)
          .where(and(lt(m.acceptedAt, before), inArray(m.status, [...doneStatuses]), isNull(m.purgedAt)))
          .all()
          .map((row) => row.id);
        if (old.length === 0) return 0;
        for (let i = 0; i < old.length; i += 500) {
          const batch = old.slice(i, i + 500);
          db.delete(outboxAttachments).where(inArray(outboxAttachments.messageId, batch)).run();
          db.update(m).set({ textBody: null, htmlBody: null, purgedAt: now }).where(inArray(m.id, batch)).run();
        }
        return old.length;
      });
    },

    async dropSlotsBefore(before) {
      await lock.run(() => db.delete(smtpSendSlots).where(lt(smtpSendSlots.windowStart, before)).run());
    },
  };
}
