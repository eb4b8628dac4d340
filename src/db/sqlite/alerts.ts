import { and, asc, desc, eq, gt, inArray, isNull, lt, lte, or, sql } from 'drizzle-orm';
import type { AlertEvent, AlertStore } from '../../alerts/store.js';
import type { Db } from './client.js';
import { alertControl, alertEvents, alertSnapshot, alertSubjectMails, outboxMessages, smtpServers, users } from './schema.js';
import type { WriteLock } from './write-lock.js';

type EventRow = typeof alertEvents.$inferSelect;

export function eventOf(row: EventRow): AlertEvent {
  return { ...row, params: JSON.parse(row.params) as AlertEvent['params'] };
}

export function createSqliteAlertStore(db: Db, lock: WriteLock): AlertStore {
  return {
    claimLease(owner, now, until) {
      return lock.run(() => {
        db.insert(alertControl).values({ id: 1, failedCursorAt: now }).onConflictDoNothing().run();
        const free = or(isNull(alertControl.leaseUntil), lt(alertControl.leaseUntil, now), eq(alertControl.leaseOwner, owner));
        return db.update(alertControl).set({ leaseOwner: owner, leaseUntil: until }).where(and(eq(alertControl.id, 1), free)).run().changes === 1;
      });
    },
    releaseLease(owner) {
      return lock.run(() => {
        db.update(alertControl).set({ leaseOwner: null, leaseUntil: null }).where(and(eq(alertControl.id, 1), eq(alertControl.leaseOwner, owner))).run();
      });
    },
    // BEGIN IMMEDIATE already holds the file's write lock.
    async lockControl(now) {
      db.insert(alertControl).values({ id: 1, failedCursorAt: now }).onConflictDoNothing().run();
      const row = db.select().from(alertControl).where(eq(alertControl.id, 1)).get()!;
      return { failedCursorAt: row.failedCursorAt, failedCursorId: row.failedCursorId, alertServerId: row.alertServerId };
    },
    advanceFailedCursor(at, id) {
      return lock.run(() => {
        db.update(alertControl).set({ failedCursorAt: at, failedCursorId: id }).where(eq(alertControl.id, 1)).run();
      });
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
        .orderBy(asc(smtpServers.id))
        .all();
    },
    async failedAfter(cursorAt, cursorId, until, limit) {
      const m = outboxMessages;
      return db
        .select({ id: m.id, publicId: m.publicId, department: m.departmentCode, subject: m.subject, lastReply: m.lastReply, lastServerTitle: m.lastServerTitle, updatedAt: m.updatedAt })
        .from(m)
        .where(and(eq(m.status, 'failed'), or(gt(m.updatedAt, cursorAt), and(eq(m.updatedAt, cursorAt), gt(m.id, cursorId))), lte(m.updatedAt, until)))
        .orderBy(asc(m.updatedAt), asc(m.id))
        .limit(limit)
        .all();
    },
    async snapshot() {
      return db.select().from(alertSnapshot).all();
    },
    saveSnapshot(changed, removed) {
      return lock.run(() => {
        for (const entry of changed) {
          db.insert(alertSnapshot).values(entry).onConflictDoUpdate({ target: alertSnapshot.subject, set: { state: entry.state } }).run();
        }
        if (removed.length) db.delete(alertSnapshot).where(inArray(alertSnapshot.subject, removed)).run();
      });
    },
    insertEvents(events) {
      return lock.run(() => {
        if (events.length === 0) return;
        db.insert(alertEvents)
          .values(events.map((e) => ({ at: e.at, kind: e.kind, subject: e.subject, params: JSON.stringify(e.params), webhookState: e.webhook ? ('pending' as const) : ('off' as const) })))
          .run();
      });
    },
    async unmailed(limit) {
      return db.select().from(alertEvents).where(inArray(alertEvents.mailState, ['pending', 'held'])).orderBy(asc(alertEvents.id)).limit(limit).all().map(eventOf);
    },
    markMailed(ids, state, at) {
      return lock.run(() => {
        if (ids.length === 0) return;
        // Held only while still pending: a pass that overran its lease cannot undo another's « sent ».
        const which = state === 'held' ? and(inArray(alertEvents.id, ids), eq(alertEvents.mailState, 'pending')) : inArray(alertEvents.id, ids);
        db.update(alertEvents).set({ mailState: state, mailedAt: state === 'held' ? null : at }).where(which).run();
      });
    },
    async unposted(limit) {
      return db.select().from(alertEvents).where(eq(alertEvents.webhookState, 'pending')).orderBy(asc(alertEvents.id)).limit(limit).all().map(eventOf);
    },
    markPosted(ids, outcome, maxAttempts) {
      return lock.run(() => {
        if (ids.length === 0) return;
        if (outcome === 'sent') {
          db.update(alertEvents).set({ webhookState: 'sent', webhookAttempts: sql`${alertEvents.webhookAttempts} + 1` }).where(inArray(alertEvents.id, ids)).run();
          return;
        }
        db.update(alertEvents)
          .set({
            webhookAttempts: sql`${alertEvents.webhookAttempts} + 1`,
            webhookState: sql`CASE WHEN ${alertEvents.webhookAttempts} + 1 >= ${maxAttempts} THEN 'failed' ELSE 'pending' END`,
          })
          .where(inArray(alertEvents.id, ids))
          .run();
      });
    },
    reserveSubjects(subjects, now, notAfter) {
      return lock.run(() => {
        const reserved: string[] = [];
        for (const subject of subjects) {
          const row = db
            .insert(alertSubjectMails)
            .values({ subject, lastMailAt: now })
            .onConflictDoUpdate({
              target: alertSubjectMails.subject,
              set: { lastMailAt: now },
              setWhere: or(isNull(alertSubjectMails.lastMailAt), lte(alertSubjectMails.lastMailAt, notAfter)),
            })
            .returning({ subject: alertSubjectMails.subject })
            .get();
          if (row) reserved.push(row.subject);
        }
        return reserved;
      });
    },
    releaseSubjects(subjects, reservedAt) {
      return lock.run(() => {
        if (subjects.length === 0) return;
        db.update(alertSubjectMails)
          .set({ lastMailAt: null })
          .where(and(inArray(alertSubjectMails.subject, subjects), eq(alertSubjectMails.lastMailAt, reservedAt)))
          .run();
      });
    },
    async recipients() {
      return db
        .select({ id: users.id, email: users.email, displayName: users.displayName, locale: users.alertsLocale })
        .from(users)
        .where(and(eq(users.alertsOptIn, true), eq(users.role, 'admin'), eq(users.disabled, false)))
        .orderBy(asc(users.id))
        .all();
    },
    async optInOf(userId) {
      return db.select({ optIn: users.alertsOptIn, locale: users.alertsLocale }).from(users).where(eq(users.id, userId)).get() ?? null;
    },
    setOptIn(userId, optIn, locale, at) {
      return lock.run(() => db.update(users).set({ alertsOptIn: optIn, alertsLocale: locale, updatedAt: at }).where(eq(users.id, userId)).run().changes === 1);
    },
    async alertServerId() {
      return db.select({ id: alertControl.alertServerId }).from(alertControl).where(eq(alertControl.id, 1)).get()?.id ?? null;
    },
    setAlertServer(serverId, now) {
      return lock.run(() => {
        if (serverId !== null && !db.select({ id: smtpServers.id }).from(smtpServers).where(eq(smtpServers.id, serverId)).get()) return false;
        db.insert(alertControl)
          .values({ id: 1, failedCursorAt: now, alertServerId: serverId })
          .onConflictDoUpdate({ target: alertControl.id, set: { alertServerId: serverId } })
          .run();
        return true;
      });
    },
    async recent(limit) {
      return db.select().from(alertEvents).orderBy(desc(alertEvents.id)).limit(limit).all().map(eventOf);
    },
    pruneEvents(before) {
      return lock.run(
        () =>
          db
            .delete(alertEvents)
            .where(and(lt(alertEvents.at, before), inArray(alertEvents.mailState, ['sent', 'unsent']), inArray(alertEvents.webhookState, ['sent', 'failed', 'off'])))
            .run().changes,
      );
    },
  };
}
