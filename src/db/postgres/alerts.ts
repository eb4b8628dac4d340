import { and, asc, desc, eq, gt, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { AlertEvent, AlertStore } from '../../alerts/store.js';
import { alertControl, alertEvents, alertSnapshot, alertSubjectMails, outboxMessages, smtpServers, users } from './schema.js';
import type { PgExecutor } from './stores.js';

type EventRow = typeof alertEvents.$inferSelect;

function eventOf(row: EventRow): AlertEvent {
  return { ...row, params: JSON.parse(row.params) as AlertEvent['params'] };
}

export function createPostgresAlertStore(db: PgExecutor): AlertStore {
  const ensureControl = (now: Date) => db.insert(alertControl).values({ id: 1, failedCursorAt: now }).onConflictDoNothing();
  return {
    async claimLease(owner, now, until) {
      await ensureControl(now);
      const free = or(isNull(alertControl.leaseUntil), lt(alertControl.leaseUntil, now), eq(alertControl.leaseOwner, owner));
      const rows = await db.update(alertControl).set({ leaseOwner: owner, leaseUntil: until }).where(and(eq(alertControl.id, 1), free)).returning({ id: alertControl.id });
      return rows.length === 1;
    },
    async releaseLease(owner) {
      await db.update(alertControl).set({ leaseOwner: null, leaseUntil: null }).where(and(eq(alertControl.id, 1), eq(alertControl.leaseOwner, owner)));
    },
    async lockControl(now) {
      // Called first in the pass's transaction: every read of the pass then sees one snapshot, so a server marked down
      // between two of them is not told as « down » in one mail and its department's « no server » in another.
      await db.execute(sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`);
      await ensureControl(now);
      // Two passes whose leases overlapped (one ran past its lease) still take turns here: no change is told twice.
      const [row] = await db.select().from(alertControl).where(eq(alertControl.id, 1)).for('update');
      return { failedCursorAt: row!.failedCursorAt, failedCursorId: row!.failedCursorId, alertServerId: row!.alertServerId };
    },
    async advanceFailedCursor(at, id) {
      await db.update(alertControl).set({ failedCursorAt: at, failedCursorId: id }).where(eq(alertControl.id, 1));
    },
    async serverHealth() {
      return db
        .select({
          id: smtpServers.id,
          title: smtpServers.title,
          active: smtpServers.active,
          confirmationStatus: smtpServers.confirmationStatus,
          downUntil: smtpServers.downUntil,
          lastError: smtpServers.lastError,
        })
        .from(smtpServers)
        .orderBy(asc(smtpServers.id));
    },
    async failedAfter(cursorAt, cursorId, until, limit) {
      const m = outboxMessages;
      return db
        .select({ id: m.id, publicId: m.publicId, department: m.departmentCode, subject: m.subject, lastReply: m.lastReply, lastServerTitle: m.lastServerTitle, updatedAt: m.updatedAt })
        .from(m)
        .where(and(eq(m.status, 'failed'), or(gt(m.updatedAt, cursorAt), and(eq(m.updatedAt, cursorAt), gt(m.id, cursorId))), lte(m.updatedAt, until)))
        .orderBy(asc(m.updatedAt), asc(m.id))
        .limit(limit);
    },
    async snapshot() {
      return db.select().from(alertSnapshot);
    },
    async saveSnapshot(changed, removed) {
      if (changed.length) {
        await db
          .insert(alertSnapshot)
          .values(changed)
          .onConflictDoUpdate({ target: alertSnapshot.subject, set: { state: sql`excluded.state` } });
      }
      if (removed.length) await db.delete(alertSnapshot).where(inArray(alertSnapshot.subject, removed));
    },
    async insertEvents(events) {
      if (events.length === 0) return;
      await db
        .insert(alertEvents)
        .values(events.map((e) => ({ at: e.at, kind: e.kind, subject: e.subject, params: JSON.stringify(e.params), webhookState: e.webhook ? ('pending' as const) : ('off' as const) })));
    },
    async unmailed(limit) {
      return (await db.select().from(alertEvents).where(inArray(alertEvents.mailState, ['pending', 'held'])).orderBy(asc(alertEvents.id)).limit(limit)).map(eventOf);
    },
    async markMailed(ids, state, at) {
      if (ids.length === 0) return;
      // Held only while still pending: a pass that overran its lease cannot undo another's « sent ».
      const which = state === 'held' ? and(inArray(alertEvents.id, ids), eq(alertEvents.mailState, 'pending')) : inArray(alertEvents.id, ids);
      await db.update(alertEvents).set({ mailState: state, mailedAt: state === 'held' ? null : at }).where(which);
    },
    async unposted(limit) {
      return (await db.select().from(alertEvents).where(eq(alertEvents.webhookState, 'pending')).orderBy(asc(alertEvents.id)).limit(limit)).map(eventOf);
    },
    async markPosted(ids, outcome, maxAttempts) {
      if (ids.length === 0) return;
      if (outcome === 'sent') {
        await db.update(alertEvents).set({ webhookState: 'sent', webhookAttempts: sql`${alertEvents.webhookAttempts} + 1` }).where(inArray(alertEvents.id, ids));
        return;
      }
      await db
        .update(alertEvents)
        .set({
          webhookAttempts: sql`${alertEvents.webhookAttempts} + 1`,
          webhookState: sql`CASE WHEN ${alertEvents.webhookAttempts} + 1 >= ${maxAttempts} THEN 'failed' ELSE 'pending' END`,
        })
        .where(inArray(alertEvents.id, ids));
    },
    async reserveSubjects(subjects, now, notAfter) {
      const reserved: string[] = [];
      for (const subject of subjects) {
        // One statement per subject: two instances reserving at once are ordered by the row lock of ON CONFLICT.
        const rows = await db
          .insert(alertSubjectMails)
          .values({ subject, lastMailAt: now })
          .onConflictDoUpdate({
            target: alertSubjectMails.subject,
            set: { lastMailAt: now },
            setWhere: or(isNull(alertSubjectMails.lastMailAt), lte(alertSubjectMails.lastMailAt, notAfter)),
          })
          .returning({ subject: alertSubjectMails.subject });
        if (rows.length) reserved.push(rows[0]!.subject);
      }
      return reserved;
    },
    async releaseSubjects(subjects, reservedAt) {
      if (subjects.length === 0) return;
      await db
        .update(alertSubjectMails)
        .set({ lastMailAt: null })
        .where(and(inArray(alertSubjectMails.subject, subjects), eq(alertSubjectMails.lastMailAt, reservedAt)));
    },
    async recipients() {
      return db
        .select({ id: users.id, email: users.email, displayName: users.displayName, locale: users.alertsLocale })
        .from(users)
        .where(and(eq(users.alertsOptIn, true), eq(users.role, 'admin'), eq(users.disabled, false)))
        .orderBy(asc(users.id));
    },
    async optInOf(userId) {
      const [row] = await db.select({ optIn: users.alertsOptIn, locale: users.alertsLocale }).from(users).where(eq(users.id, userId));
      return row ?? null;
    },
    async setOptIn(userId, optIn, locale, at) {
      const rows = await db.update(users).set({ alertsOptIn: optIn, alertsLocale: locale, updatedAt: at }).where(eq(users.id, userId)).returning({ id: users.id });
      return rows.length === 1;
    },
    async alertServerId() {
      const [row] = await db.select({ id: alertControl.alertServerId }).from(alertControl).where(eq(alertControl.id, 1));
      return row?.id ?? null;
    },
    async setAlertServer(serverId, now) {
      // The lock a foreign key check takes, taken first: a delete under way is waited for, and then seen.
      if (serverId !== null && (await db.select({ id: smtpServers.id }).from(smtpServers).where(eq(smtpServers.id, serverId)).for('key share')).length === 0) return false;
      await db
        .insert(alertControl)
        .values({ id: 1, failedCursorAt: now, alertServerId: serverId })
        .onConflictDoUpdate({ target: alertControl.id, set: { alertServerId: serverId } });
      return true;
    },
    async recent(limit) {
      return (await db.select().from(alertEvents).orderBy(desc(alertEvents.id)).limit(limit)).map(eventOf);
    },
    async pruneEvents(before) {
      const rows = await db
        .delete(alertEvents)
        .where(and(lt(alertEvents.at, before), inArray(alertEvents.mailState, ['sent', 'unsent']), inArray(alertEvents.webhookState, ['sent', 'failed', 'off'])))
        .returning({ id: alertEvents.id });
      return rows.length;
    },
  };
}
