import { and, asc, count, desc, eq, gt, gte, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import { acceptedSummaryOf, claimedOf, detailOf, doneStatuses, summaryOf, waitingStatuses, type ClaimedRow } from '../../outbox/rows.js';
import type { NewOutboxMessage, OutboxStore } from '../../outbox/store.js';
import type { MessageListQuery } from '../../outbox/types.js';
import { UniqueViolation } from '../errors.js';
import { likePattern } from '../like.js';
import { countSettled, recordRequeued } from './dashboard.js';
import { isUniqueViolation } from './errors.js';
import { runNamed } from './named-statements.js';
import { outboxAttachments, outboxAttempts, outboxMessages as m, smtpSendSlots, smtpServers } from './schema.js';
import type { PgExecutor } from './stores.js';

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

const rowOf = (message: NewOutboxMessage) => ({
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
  status: 'queued' as const,
  dueAt: message.acceptedAt,
  idempotencyKey: message.idempotencyKey,
  bodyHash: message.bodyHash,
  searchText: message.searchText,
  acceptedAt: message.acceptedAt,
  updatedAt: message.acceptedAt,
});

export function createPostgresOutboxStore(db: PgExecutor): OutboxStore {
  const store: OutboxStore = {
    // Its two inserts belong together: the service calls it inside stores.transaction.
    async insert(message) {
      try {
        const [row] = await db
          .insert(m)
          .values(rowOf(message))
          .returning({ ...summaryColumns, id: m.id });
        if (message.attachments.length) {
          await db
            .insert(outboxAttachments)
            .values(message.attachments.map((a, position) => ({ messageId: row!.id, position, filename: a.filename, contentType: a.contentType, content: a.content })));
        }
        return summaryOf(row!);
      } catch (err) {
        if (isUniqueViolation(err)) throw new UniqueViolation('idempotency_key', err);
        throw err;
      }
    },

    // One statement, its own (durable) commit: one round trip and one flush to disk for the whole group. The rows go as
    // one JSON parameter: a fixed text, not 21 parameters per message for the query builder and the driver.
    async insertMany(messages, lease) {
      const values = messages.map((message, i) => ({
        leased: lease !== null && i < lease.count,
        public_id: message.publicId,
        department_code: message.department,
        pinned_server_id: message.pinnedServerId,
        origin_kind: message.origin.kind,
        origin_id: message.origin.id,
        origin_name: message.origin.name,
        to_addresses: JSON.stringify(message.to),
        cc_addresses: JSON.stringify(message.cc),
        bcc_addresses: JSON.stringify(message.bcc),
        reply_to: message.replyTo,
        subject: message.subject,
        text_body: message.text,
        html_body: message.html,
        message_id: message.messageId,
        idempotency_key: message.idempotencyKey,
        body_hash: message.bodyHash,
        search_text: message.searchText,
        accepted_at: message.acceptedAt.getTime(),
      }));
      const { rows } = await runNamed<{ id: number; publicId: string }>(db, sql`
        INSERT INTO outbox_messages (public_id, department_code, pinned_server_id, origin_kind, origin_id, origin_name, to_addresses,
          cc_addresses, bcc_addresses, reply_to, subject, text_body, html_body, message_id, status, due_at, lease_owner, idempotency_key,
          body_hash, search_text, accepted_at, updated_at)
        SELECT public_id, department_code, pinned_server_id, origin_kind, origin_id, origin_name, to_addresses, cc_addresses,
          bcc_addresses, reply_to, subject, text_body, html_body, message_id, CASE WHEN leased THEN 'sending' ELSE 'queued' END,
          CASE WHEN leased THEN ${lease?.until.getTime() ?? null}::bigint ELSE accepted_at END, CASE WHEN leased THEN ${lease?.owner ?? null}::text END,
          idempotency_key, body_hash, search_text, accepted_at, accepted_at
        FROM json_to_recordset(${JSON.stringify(values)}::json) AS v(leased boolean, public_id text, department_code text,
          pinned_server_id integer, origin_kind text, origin_id integer, origin_name text, to_addresses text, cc_addresses text,
          bcc_addresses text, reply_to text, subject text, text_body text, html_body text, message_id text, idempotency_key text,
          body_hash text, search_text text, accepted_at bigint)
        RETURNING id, public_id AS "publicId"`);
      const ids = new Map(rows.map((row) => [row.publicId, Number(row.id)]));
      return messages.map((message, i) => ({ id: ids.get(message.publicId)!, summary: acceptedSummaryOf(message, values[i]!.leased) }));
    },

    async findByIdempotencyKey(originKind, originId, key) {
      const [row] = await db
        .select({ ...summaryColumns, bodyHash: m.bodyHash })
        .from(m)
        .where(and(eq(m.originKind, originKind), eq(m.originId, originId), eq(m.idempotencyKey, key)));
      return row ? { message: summaryOf(row), bodyHash: row.bodyHash } : null;
    },

    async find(publicId) {
      const [row] = await db.select(detailColumns).from(m).where(eq(m.publicId, publicId));
      if (!row) return null;
      const attempts = await db
        .select({ at: outboxAttempts.at, serverId: outboxAttempts.serverId, serverTitle: outboxAttempts.serverTitle, outcome: outboxAttempts.outcome, reply: outboxAttempts.reply, durationMs: outboxAttempts.durationMs })
        .from(outboxAttempts)
        .where(eq(outboxAttempts.messageId, row.id))
        .orderBy(asc(outboxAttempts.id));
      return detailOf(row, attempts);
    },

    async page(query, perPage) {
      const where = whereOf(query);
      const [counted] = await db.select({ n: count() }).from(m).where(where);
      const total = Number(counted?.n ?? 0);
      const pages = Math.max(1, Math.ceil(total / perPage));
      const page = Math.min(Math.max(1, query.page ?? 1), pages);
      const rows = await db
        .select(summaryColumns)
        .from(m)
        .where(where)
        .orderBy(desc(m.acceptedAt), desc(m.id))
        .limit(perPage)
        .offset((page - 1) * perPage);
      return { rows: rows.map(summaryOf), total, page, pages, perPage };
    },

    async countFailedSince(since) {
      const [counted] = await db.select({ n: count() }).from(m).where(and(eq(m.status, 'failed'), gte(m.updatedAt, since)));
      return Number(counted?.n ?? 0);
    },

    async *batches(query, batchSize) {
      let after: { acceptedAt: Date; id: number } | null = null;
      for (;;) {
        const from: { acceptedAt: Date; id: number } | null = after;
        const keyset: SQL | undefined = from ? or(lt(m.acceptedAt, from.acceptedAt), and(eq(m.acceptedAt, from.acceptedAt), lt(m.id, from.id))) : undefined;
        const rows = await db
          .select({ ...summaryColumns, id: m.id })
          .from(m)
          .where(and(whereOf(query), keyset))
          .orderBy(desc(m.acceptedAt), desc(m.id))
          .limit(batchSize);
        if (rows.length === 0) return;
        yield rows.map(summaryOf);
        if (rows.length < batchSize) return;
        const last: { acceptedAt: Date; id: number } = rows[rows.length - 1]!;
        after = { acceptedAt: last.acceptedAt, id: last.id };
      }
    },

    async requeue(publicId, now) {
      const rows = await db
        .update(m)
        // Its pending recipients stay: those who received it are not sent it again.
        .set({ status: 'queued', dueAt: now, roundCount: 0, triedServerIds: '[]', stickyServerId: null, refusedRecipients: null, updatedAt: now })
        .where(and(eq(m.publicId, publicId), eq(m.status, 'failed'), isNull(m.purgedAt)))
        .returning({ id: m.id });
      if (rows[0]) await recordRequeued(db, rows[0].id);
      return rows.length > 0;
    },

    async cancel(publicId, now) {
      const rows = await db
        .update(m)
        .set({ status: 'cancelled', dueAt: null, updatedAt: now })
        .where(and(eq(m.publicId, publicId), inArray(m.status, [...waitingStatuses])))
        .returning({ id: m.id });
      return rows.length > 0;
    },

    async claim(owner, now, leaseUntil, limit) {
      // Rows another worker is claiming at this instant are skipped, not waited for. Only waiting and leased messages
      // have a due_at: its index alone finds the next ones, in order. A fixed text, prepared by name: its plan does
      // not hang on the values.
      const { rows: found } = await runNamed<Omit<ClaimedRow, 'acceptedAt'> & { acceptedAt: string; withAttachments: boolean }>(
        db,
        sql`
        UPDATE outbox_messages AS m SET status = 'sending', lease_owner = ${owner}, due_at = ${leaseUntil.getTime()}, updated_at = ${now.getTime()}
        WHERE m.id IN (SELECT id FROM outbox_messages WHERE due_at <= ${now.getTime()} ORDER BY due_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
        RETURNING m.id, m.public_id AS "publicId", m.department_code AS "departmentCode", m.pinned_server_id AS "pinnedServerId",
          m.to_addresses AS "toAddresses", m.cc_addresses AS "ccAddresses", m.bcc_addresses AS "bccAddresses", m.reply_to AS "replyTo",
          m.subject, m.message_id AS "messageId", m.attempt_count AS "attemptCount", m.round_count AS "roundCount",
          m.tried_server_ids AS "triedServerIds", m.sticky_server_id AS "stickyServerId", m.pending_recipients AS "pendingRecipients",
          m.refused_recipients AS "refusedRecipients", m.accepted_at AS "acceptedAt",
          m.text_body AS text, m.html_body AS html, m.purged_at AS "purgedAt",
          EXISTS (SELECT 1 FROM outbox_attachments WHERE outbox_attachments.message_id = m.id) AS "withAttachments"`,
      );
      const rows = found.map((row) => ({ ...row, acceptedAt: new Date(Number(row.acceptedAt)) }));
      if (!rows.some((row) => row.withAttachments)) return rows.map((row) => claimedOf(row, []));
      // The attachments of the whole batch in one query: not two round trips per message for its content.
      const attachments = await db
        .select({ messageId: outboxAttachments.messageId, filename: outboxAttachments.filename, contentType: outboxAttachments.contentType, content: outboxAttachments.content })
        .from(outboxAttachments)
        .where(inArray(outboxAttachments.messageId, rows.filter((row) => row.withAttachments).map((row) => row.id)))
        .orderBy(asc(outboxAttachments.messageId), asc(outboxAttachments.position));
      return rows.map((row) =>
        claimedOf(
          row,
          attachments.filter((a) => a.messageId === row.id).map(({ filename, contentType, content }) => ({ filename, contentType, content })),
        ),
      );
    },

    async contentOf(id) {
      const [row] = await db.select({ text: m.textBody, html: m.htmlBody, purgedAt: m.purgedAt }).from(m).where(eq(m.id, id));
      const attachments = await db
        .select({ filename: outboxAttachments.filename, contentType: outboxAttachments.contentType, content: outboxAttachments.content })
        .from(outboxAttachments)
        .where(eq(outboxAttachments.messageId, id))
        .orderBy(asc(outboxAttachments.position));
      return { text: row?.text ?? null, html: row?.html ?? null, attachments, purged: !row || row.purgedAt !== null };
    },

    async settle(id, owner, s, now) {
      const [kept] = await store.settleMany(owner, [{ id, settlement: s }], now);
      return kept!;
    },

    // One statement whatever the number of messages, atomic on its own (no BEGIN, no COMMIT to wait for): the messages,
    // their attempts and the dashboard's counters land together. Not waited to disk (synchronous_commit off for this
    // transaction only): a crash may forget this outcome, and the message is then sent again with the same Message-ID
    // (at least once, as a lease lost would); the accept, which answers 202, stays a durable commit.
    async settleMany(owner, settlements, now) {
      const values = settlements.map(({ id, settlement: s }) => ({
        id,
        status: s.status,
        due_at: s.dueAt?.getTime() ?? null,
        attempt_count: s.attemptCount,
        round_count: s.roundCount,
        tried_server_ids: JSON.stringify(s.triedServerIds),
        sticky_server_id: s.stickyServerId,
        pending_recipients: s.pendingRecipients === null ? null : JSON.stringify(s.pendingRecipients),
        refused_recipients: s.refusedRecipients === null ? null : JSON.stringify(s.refusedRecipients),
        last_server_id: s.lastServerId,
        last_server_title: s.lastServerTitle,
        last_reply: s.lastReply,
        sent_at: s.sentAt?.getTime() ?? null,
      }));
      const attempts = settlements.flatMap(({ id, settlement }) =>
        settlement.attempts.map((a) => ({ message_id: id, at: a.at.getTime(), server_id: a.serverId, server_title: a.serverTitle, outcome: a.outcome, reply: a.reply, duration_ms: a.durationMs })),
      );
      const { rows } = await runNamed<{ id: number }>(db, sql`
        WITH durability AS (SELECT set_config('synchronous_commit', 'off', true)),
        settled AS (
          UPDATE outbox_messages AS m SET status = v.status, due_at = v.due_at, lease_owner = NULL, attempt_count = v.attempt_count,
            round_count = v.round_count, tried_server_ids = v.tried_server_ids, sticky_server_id = v.sticky_server_id,
            pending_recipients = v.pending_recipients, refused_recipients = v.refused_recipients, last_server_id = CASE WHEN v.last_server_title IS NULL THEN m.last_server_id ELSE v.last_server_id END, last_server_title = coalesce(v.last_server_title, m.last_server_title),
            last_reply = CASE WHEN v.last_server_title IS NULL THEN coalesce(v.last_reply, m.last_reply) ELSE v.last_reply END, sent_at = v.sent_at,
            updated_at = ${now.getTime()}
          FROM json_to_recordset(${JSON.stringify(values)}::json) AS v(id integer, status text, due_at bigint, attempt_count integer,
            round_count integer, tried_server_ids text, sticky_server_id integer, pending_recipients text, refused_recipients text,
            last_server_id integer, last_server_title text,
            last_reply text, sent_at bigint)
          WHERE m.id = v.id AND m.lease_owner = ${owner} AND m.status = 'sending'
          RETURNING m.id, m.department_code, m.accepted_at, m.sent_at, m.status),
        attempted AS (
          INSERT INTO outbox_attempts (message_id, at, server_id, server_title, outcome, reply, duration_ms)
          SELECT message_id, at, server_id, server_title, outcome, reply, duration_ms
          FROM ROWS FROM (json_to_recordset(${JSON.stringify(attempts)}::json) AS (message_id integer, at bigint, server_id integer,
            server_title text, outcome text, reply text, duration_ms integer)) WITH ORDINALITY
            AS a(message_id, at, server_id, server_title, outcome, reply, duration_ms, position)
          WHERE message_id IN (SELECT id FROM settled)
          ORDER BY position),
        ${countSettled}
        SELECT id FROM settled, durability`);
      const kept = new Set(rows.map((row) => Number(row.id)));
      return settlements.map(({ id }) => kept.has(id));
    },

    async handBack(owner, now) {
      const rows = await db
        .update(m)
        .set({ status: 'queued', leaseOwner: null, dueAt: now, updatedAt: now })
        .where(and(eq(m.leaseOwner, owner), eq(m.status, 'sending')))
        .returning({ id: m.id });
      return rows.length;
    },

    async sendingServer(serverId) {
      const [row] = await db
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
        .where(eq(smtpServers.id, serverId));
      return row ?? null;
    },

    async serverSucceeded(serverId, now) {
      // Written only when there is something to clear, or about once a second: a busy server's row is not locked per message.
      await db
        .update(smtpServers)
        .set({ consecutiveFailures: 0, downUntil: null, lastSuccessAt: now })
        .where(
          and(
            eq(smtpServers.id, serverId),
            or(sql`${smtpServers.consecutiveFailures} > 0`, sql`${smtpServers.downUntil} IS NOT NULL`, isNull(smtpServers.lastSuccessAt), lt(smtpServers.lastSuccessAt, new Date(now.getTime() - 1000))),
          ),
        );
    },

    async serverFailed(serverId, now, error, threshold, downUntil) {
      await db
        .update(smtpServers)
        .set({
          consecutiveFailures: sql`${smtpServers.consecutiveFailures} + 1`,
          lastErrorAt: now,
          lastError: error,
          downUntil: sql`CASE WHEN ${smtpServers.consecutiveFailures} + 1 >= ${threshold} THEN ${downUntil.getTime()}::bigint ELSE ${smtpServers.downUntil} END`,
        })
        .where(eq(smtpServers.id, serverId));
    },

    async reserveSlot(serverId, windowStart, limit) {
      // One statement: two instances reserving at once see each other's count (the row lock of ON CONFLICT).
      const rows = await db
        .insert(smtpSendSlots)
        .values({ serverId, windowStart, used: 1 })
        .onConflictDoUpdate({ target: [smtpSendSlots.serverId, smtpSendSlots.windowStart], set: { used: sql`${smtpSendSlots.used} + 1` }, setWhere: sql`${smtpSendSlots.used} < ${limit}` })
        .returning({ used: smtpSendSlots.used });
      return rows.length > 0 && rows[0]!.used <= limit;
    },

    // Called inside stores.transaction.
    async purgeBodies(before, now) {
      const old = (
        await db
          .select({ id: m.id })
          .from(m)
          .where(and(lt(m.acceptedAt, before), inArray(m.status, [...doneStatuses]), isNull(m.purgedAt)))
      ).map((row) => row.id);
      for (let i = 0; i < old.length; i += 500) {
        const batch = old.slice(i, i + 500);
        await db.delete(outboxAttachments).where(inArray(outboxAttachments.messageId, batch));
        await db.update(m).set({ textBody: null, htmlBody: null, purgedAt: now }).where(inArray(m.id, batch));
      }
      return old.length;
    },

    async dropSlotsBefore(before) {
      await db.delete(smtpSendSlots).where(lt(smtpSendSlots.windowStart, before));
    },
  };
  return store;
}
