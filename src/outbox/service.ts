import { createHash, randomFillSync, randomUUID } from 'node:crypto';
import { UniqueViolation } from '../db/errors.js';
import type { Stores } from '../db/stores.js';
import { normalizeForSearch } from '../smtp-servers/search.js';
import type { Department } from '../departments/store.js';
import { claimedAtAcceptance } from './rows.js';
import type { AcceptanceLease, ClaimedMessage, NewOutboxMessage, StoredMessage } from './store.js';
import type { AcceptOptions, AcceptOutcome, MessageListQuery, MessageSummary, Outbox, OutgoingMessage } from './types.js';

export const defaultMessagesPerPage = 50;
export const maxMessagesPerPage = 500;
const exportBatchSize = 500;
const acceptGroupSize = 100;

/** The query's words as the stored search text is written (lower case, no accents); none when blank. */
function searchable(query: MessageListQuery): MessageListQuery {
  const q = query.q ? normalizeForSearch(query.q.trim()) : undefined;
  return { ...query, q: q || undefined };
}

/**
 * Opaque, unguessable, URL-safe: the API's id of a message. Never starting with « - », which spreadsheets read as a
 * formula: the exports would have to neutralise it, and the id read back would not be the message's.
 */
export function newPublicId(): string {
  for (;;) {
    const id = randomSlice(15).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

// Drawn from the system's generator 4 KB at a time, as randomUUID does: 0.4 µs an id instead of 9 µs for a call of
// randomBytes each.
const randomPool = Buffer.alloc(4096);
let randomPoolUsed = randomPool.length;
function randomSlice(size: number): Buffer {
  if (randomPoolUsed + size > randomPool.length) {
    randomFillSync(randomPool);
    randomPoolUsed = 0;
  }
  randomPoolUsed += size;
  return randomPool.subarray(randomPoolUsed - size, randomPoolUsed);
}

/** A Message-ID of our own, in the domain Relais is reached at: fixed at acceptance, kept across attempts and servers. */
export function newMessageId(domain: string): string {
  return `<${randomUUID()}@${domain}>`;
}

/** What makes two calls "the same message" for an Idempotency-Key: every field, attachments by their content's hash. */
export function bodyHashOf(message: OutgoingMessage, serverId: number | undefined): string {
  const canonical = JSON.stringify([
    message.department,
    message.to,
    message.cc,
    message.bcc,
    message.replyTo,
    message.subject,
    message.text,
    message.html,
    serverId ?? null,
    message.attachments.map((a) => [a.filename, a.contentType, createHash('sha256').update(a.content).digest('hex')]),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** The local worker, offered each group of accepts before it is stored: it may take some of them at once, leased. */
export interface AcceptanceTaker {
  /** How many of the next `count` messages it takes now (its places held for them), or null for none. */
  reserve(count: number): AcceptanceLease | null;
  /** The messages it reserved, stored leased to it and committed: its to send. */
  handOver(messages: ClaimedMessage[]): void;
  /** The group was not stored as asked: the places it held are free again. */
  release(count: number): void;
}

export interface OutboxService extends Outbox {
  /** Called after each accept is committed: the local worker wakes at once instead of at its next poll. */
  onAccepted(listener: () => void): void;
  /** The local worker takes messages as they are stored, when it has room: no claim needed for them. */
  takeAtAcceptance(taker: AcceptanceTaker): void;
  /** Every message the query matches, in the log's order, a batch at a time (the log's exports). */
  batches(query: MessageListQuery): AsyncGenerator<MessageSummary[]>;
  /** Messages failed for good since then (the pages' banner). */
  countFailedSince(since: Date): Promise<number>;
  /** The department of this code, as the accept sees it (kept a moment: a busy API does not read it at every call). */
  department(code: string): Promise<Department | null>;
  /** A department was changed on this instance: read them again. */
  forgetDepartments(): void;
}

/** The rules of handing messages over: the department checked, stored before any attempt, idempotent per origin. */
export function createOutboxService(stores: Stores, options: { messageIdDomain: string; departmentCacheMs?: number }): OutboxService {
  const listeners: (() => void)[] = [];
  let taker: AcceptanceTaker | null = null;
  // Found departments only, for departmentCacheMs: another instance's change is seen within that time, this one's at once.
  const departments = new Map<string, { at: number; department: Promise<Department | null> }>();
  const keepMs = options.departmentCacheMs ?? 0;
  function departmentOf(code: string): Promise<Department | null> {
    const hit = departments.get(code);
    if (hit && Date.now() - hit.at < keepMs) return hit.department;
    const found = stores.departments.findByCode(code);
    if (keepMs > 0) {
      if (departments.size >= 100) departments.clear();
      const entry = { at: Date.now(), department: found };
      departments.set(code, entry);
      const drop = () => departments.get(code) === entry && departments.delete(code);
      found.then((d) => d ?? drop(), drop);
    }
    return found;
  }
  const notify = () => {
    for (const listener of listeners) listener();
  };

  // Accepts stored together: the messages (without attachments nor Idempotency-Key) handed over while a group is being
  // written, or in the same turn of the event loop, go in the next group, one commit for all; each call still resolves
  // only once its own message is committed. A group that fails is written again message by message, so one bad message
  // does not take the others with it. The local worker, when it has room, takes the first of a group in the same insert
  // (leased to it, as a claim would leave them): the messages it needs no claim for, nor a read of what it already has.
  const unstored: { message: NewOutboxMessage; resolve: (summary: MessageSummary) => void; reject: (err: unknown) => void }[] = [];
  let storing = false;
  function storeInGroup(message: NewOutboxMessage): Promise<MessageSummary> {
    return new Promise((resolve, reject) => {
      unstored.push({ message, resolve, reject });
      if (!storing) {
        storing = true;
        setImmediate(() => void writeGroups());
      }
    });
  }
  async function writeGroups() {
    try {
      while (unstored.length) {
        const group = unstored.splice(0, acceptGroupSize);
        const lease = taker?.reserve(group.length) ?? null;
        let stored: StoredMessage[];
        try {
          stored = await stores.outbox.insertMany(
            group.map((item) => item.message),
            lease,
          );
        } catch (err) {
          if (lease) taker!.release(lease.count);
          if (group.length === 1) group[0]!.reject(err);
          else for (const item of group) await stores.outbox.insert(item.message).then(item.resolve, item.reject);
          continue;
        }
        group.forEach((item, i) => item.resolve(stored[i]!.summary));
        if (lease) taker!.handOver(stored.slice(0, lease.count).map(({ id }, i) => claimedAtAcceptance(group[i]!.message, id)));
      }
    } finally {
      storing = false;
    }
  }

  async function replay(key: string, kind: 'token' | 'user', originId: number, hash: string): Promise<AcceptOutcome | null> {
    const earlier = await stores.outbox.findByIdempotencyKey(kind, originId, key);
    if (!earlier) return null;
    // The first answer again: a message with a key is stored alone, never taken as it is stored, so it was "queued".
    return earlier.bodyHash === hash ? { kind: 'replayed', message: { ...earlier.message, status: 'queued' } } : { kind: 'idempotencyConflict' };
  }

  return {
    onAccepted(listener) {
      listeners.push(listener);
    },

    takeAtAcceptance(localWorker) {
      taker = localWorker;
    },

    department: departmentOf,

    forgetDepartments() {
      departments.clear();
    },

    async accept(message: OutgoingMessage, acceptOptions: AcceptOptions): Promise<AcceptOutcome> {
      const origin = acceptOptions.origin.kind === 'token'
        ? { kind: 'token' as const, id: acceptOptions.origin.tokenId, name: acceptOptions.origin.name }
        : { kind: 'user' as const, id: acceptOptions.origin.userId, name: acceptOptions.origin.name };
      const key = acceptOptions.idempotencyKey ?? null;
      const hash = key === null ? null : bodyHashOf(message, acceptOptions.serverId);
      if (key !== null) {
        const earlier = await replay(key, origin.kind, origin.id, hash!);
        if (earlier) return earlier;
      }
      const department = await departmentOf(message.department);
      if (!department) return { kind: 'unknownDepartment', code: message.department };
      if (!department.active) return { kind: 'inactiveDepartment', code: message.department };
      const now = new Date();
      try {
        const row: NewOutboxMessage = {
          publicId: newPublicId(),
          department: department.code,
          pinnedServerId: acceptOptions.serverId ?? null,
          origin,
          to: message.to,
          cc: message.cc,
          bcc: message.bcc,
          replyTo: message.replyTo,
          subject: message.subject,
          text: message.text,
          html: message.html,
          attachments: message.attachments,
          messageId: newMessageId(options.messageIdDomain),
          idempotencyKey: key,
          bodyHash: hash,
          searchText: normalizeForSearch([...message.to, ...message.cc, message.subject].join(' ')),
          acceptedAt: now,
        };
        // With attachments it is several inserts, in one transaction; with a key, alone (it may meet its twin's unique
        // index); without either, in a group of accepts (one commit for all).
        const summary = message.attachments.length
          ? await stores.transaction((tx) => tx.outbox.insert(row))
          : key !== null
            ? await stores.outbox.insert(row)
            : await storeInGroup(row);
        // One the local worker took as it was stored is on its way already: no need to look for it.
        if (summary.status !== 'sending') notify();
        return { kind: 'accepted', message: summary };
      } catch (err) {
        // The same key sent twice at once: the other call stored it first.
        if (err instanceof UniqueViolation && key !== null) {
          const earlier = await replay(key, origin.kind, origin.id, hash!);
          if (earlier) return earlier;
        }
        throw err;
      }
    },

    find(id) {
      return stores.outbox.find(id);
    },

    list(query: MessageListQuery) {
      const perPage = Math.min(Math.max(1, Math.floor(query.perPage ?? defaultMessagesPerPage)), maxMessagesPerPage);
      return stores.outbox.page(searchable(query), perPage);
    },

    batches(query: MessageListQuery) {
      return stores.outbox.batches(searchable(query), exportBatchSize);
    },

    countFailedSince(since: Date) {
      return stores.outbox.countFailedSince(since);
    },

    async retry(id, actor) {
      const done = await stores.transaction(async (tx) => {
        const message = await tx.outbox.find(id);
        if (!message || !(await tx.outbox.requeue(id, new Date()))) return false;
        await tx.audit.append({ userId: actor.userId, name: actor.name, ip: actor.ip ?? null }, { action: 'message.retry', targetType: 'message', targetId: id, summary: message.subject });
        return true;
      });
      if (done) notify();
      return done;
    },

    async cancel(id, actor) {
      return stores.transaction(async (tx) => {
        const message = await tx.outbox.find(id);
        if (!message || !(await tx.outbox.cancel(id, new Date()))) return false;
        await tx.audit.append({ userId: actor.userId, name: actor.name, ip: actor.ip ?? null }, { action: 'message.cancel', targetType: 'message', targetId: id, summary: message.subject });
        return true;
      });
    },
  };
}
