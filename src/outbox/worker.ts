import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { FastifyBaseLogger } from 'fastify';
import type { OutboxSettings } from '../config.js';
import type { SecretBox } from '../crypto/secret-box.js';
import type { Stores } from '../db/stores.js';
import { serversFor } from '../departments/routing.js';
import { logoPlaceholderSrc } from '../signature/sanitize.js';
import { credentialsOf, smtpAuthFor, type NodemailerAuth } from '../smtp/credentials.js';
import type { OAuthTokens } from '../smtp/oauth-tokens.js';
import { SendFailure, type Delivery, type PooledEndpoint } from '../smtp/transports.js';
import { printable } from '../smtp/reply.js';
import { brokeTheConnection, deliveryReplyOf, partlyFailedReplyOf, refusalsText, refusedForGood, refusedRecipientOf, replyOf, verdictOf } from './failures.js';
import { ownReplies } from './own-replies.js';
import { minuteOf } from './rows.js';
import type { SendingThread } from './sender.js';
import type { AcceptanceTaker } from './service.js';
import type { AcceptanceLease, ClaimedMessage, NewAttempt, RefusedRecipient, SendingServer, Settlement } from './store.js';

export interface WorkerDeps {
  stores: Stores;
  secrets: SecretBox;
  settings: OutboxSettings;
  /** Composes and sends, on a thread of its own. */
  sender: SendingThread;
  /** The OAuth2 access tokens, shared with the connection test and the confirmation. */
  tokens: OAuthTokens;
  log: FastifyBaseLogger;
}

/** The wait after the n-th round (0-based) in which every server failed: the schedule, its last step repeated, ±20 %. */
export function backoffMs(schedule: number[], round: number, random = Math.random): number {
  const base = schedule[Math.min(round, schedule.length - 1)] ?? 60_000;
  return Math.round(base * (0.8 + 0.4 * random()));
}

const housekeepingEveryMs = 3_600_000;
// At most this many outcomes in one transaction.
const settleBatchSize = 100;
// While messages are in flight, the worker waits for this many free places before it claims more.
const claimAtLeast = 4;

/**
 * The sender inside each instance: claims due messages under a lease, sends each through its department's servers in
 * order (failover by what the server said), writes the outcome and every attempt, and gives its leases back at
 * shutdown. Several instances share one outbox: a message is leased to one worker at a time.
 */
export function createOutboxWorker(deps: WorkerDeps) {
  const { stores, settings, sender, log } = deps;
  const owner = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const inFlight = new Set<Promise<void>>();
  // Places held for messages being stored leased to this worker (see take): counted as in flight.
  let reserved = 0;
  let reservationsSettled: (() => void)[] = [];
  // The last claim took fewer than it could: no message was left due then. Only then, and for one poll interval, are
  // new messages taken as they are stored; past it a claim must look again (retries come due, another instance's
  // messages wait), so none waits behind newer ones for longer than that.
  let drained = false;
  let lastClaimAt = 0;
  // Wakes counted: one that comes while a claim is out is not undone by that claim's result (it read the due ones before).
  let wakes = 0;
  let running = false;
  let ticking = false;
  let again = false;
  let timer: NodeJS.Timeout | null = null;
  let housekeeping: NodeJS.Timeout | null = null;
  // What a busy worker would otherwise read again for every message; dropped at once for a server whose state it changed.
  const routes = new Map<string, { at: number; ids: Promise<number[]> }>();
  const servers = new Map<number, { at: number; row: Promise<SendingServer | null> }>();
  const successWritten = new Map<number, number>();
  const fresh = (at: number) => Date.now() - at < settings.routeCacheMs;
  const forgetServer = (serverId: number) => {
    servers.delete(serverId);
    routes.clear();
    successWritten.delete(serverId);
  };
  function cachedRoute(department: string): Promise<number[]> {
    const hit = routes.get(department);
    if (hit && fresh(hit.at)) return hit.ids;
    const ids = serversFor(stores.departments, department, new Date()).then((usable) => usable.map((s) => s.id));
    ids.catch(() => routes.delete(department));
    routes.set(department, { at: Date.now(), ids });
    return ids;
  }
  function cachedServer(serverId: number): Promise<SendingServer | null> {
    const hit = servers.get(serverId);
    if (hit && fresh(hit.at)) return hit.row;
    const row = stores.outbox.sendingServer(serverId);
    row.catch(() => servers.delete(serverId));
    servers.set(serverId, { at: Date.now(), row });
    return row;
  }

  function schedule(ms: number) {
    if (!running) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      void tick();
    }, ms);
  }

  async function tick(): Promise<void> {
    if (!running) return;
    if (ticking) {
      again = true;
      return;
    }
    ticking = true;
    try {
      do {
        again = false;
        const busy = inFlight.size + reserved;
        const free = settings.concurrency - busy;
        // A busy worker claims a few messages per round trip rather than one each time a message is done.
        if (free <= 0 || (busy > 0 && free < Math.min(claimAtLeast, settings.concurrency))) break;
        const now = new Date();
        const wakesBefore = wakes;
        const claimed = await stores.outbox.claim(owner, now, new Date(now.getTime() + settings.leaseMs), free);
        lastClaimAt = Date.now();
        drained = claimed.length < free && wakes === wakesBefore;
        for (const message of claimed) begin(message);
        if (claimed.length === free) again = true;
      } while (again && running);
    } catch (err) {
      log.error({ err }, 'outbox: claiming due messages failed');
    } finally {
      ticking = false;
    }
    schedule(settings.pollMs);
  }

  function begin(message: ClaimedMessage) {
    const work: Promise<void> = deliver(message)
      .catch((err: unknown) => log.error({ err, message: message.publicId }, 'outbox: a message could not be processed; its lease will expire and it will be tried again'))
      .finally(() => {
        inFlight.delete(work);
        // A place is free: worth a claim only if the last one left messages due; else the next accept or poll looks.
        if (!drained) void tick();
      });
    inFlight.add(work);
  }

  function unreserve(count: number) {
    reserved -= count;
    if (reserved > 0) return;
    for (const settled of reservationsSettled) settled();
    reservationsSettled = [];
  }

  /** What the pool needs of a server: no secret, no signature. */
  const endpointOf = (server: SendingServer): PooledEndpoint => ({
    id: server.id,
    version: server.version,
    host: server.host,
    port: server.port,
    security: server.security,
    authentication: server.authentication,
    email: server.email,
    username: server.username,
    verifyCertificate: server.verifyCertificate,
  });

  // Async: a secret no configured key opens is this server's failure (the next one is tried), not a throw in the
  // sending thread's listener.
  async function authOf(server: SendingServer): Promise<NodemailerAuth | undefined> {
    // The envelopes of this very server's row: a secret is never used for another server.
    const reveal = (envelope: string | null) => (envelope ? deps.secrets.decrypt(envelope) : null);
    const password = server.authentication === 'password' ? reveal(server.passwordCiphertext) : null;
    const oauthSecret = server.authentication.startsWith('oauth2-') ? reveal(server.oauthSecretCiphertext) : null;
    return smtpAuthFor(credentialsOf(server, { password, oauthSecret }), deps.tokens);
  }

  // Outcomes are written in groups: the ones that arrive in the same turn of the event loop, or while a transaction is
  // being written, go together in the next one (one COMMIT for many messages; on SQLite, whose statements do not
  // yield, the turn is what gathers them). Each message's own settle still resolves only once its outcome is committed.
  const unsettled: { message: ClaimedMessage; settlement: Settlement; done: (err?: unknown) => void }[] = [];
  let settling = false;

  function settle(message: ClaimedMessage, settlement: Settlement): Promise<void> {
    return new Promise((resolve, reject) => {
      unsettled.push({ message, settlement, done: (err) => (err === undefined ? resolve() : reject(err)) });
      if (!settling) {
        settling = true;
        setImmediate(() => void writeSettlements());
      }
    });
  }

  async function writeSettlements() {
    try {
      while (unsettled.length) {
        const batch = unsettled.splice(0, settleBatchSize);
        const now = new Date();
        const write = (items: typeof batch) =>
          stores.outbox.settleMany(owner, items.map(({ message, settlement }) => ({ id: message.id, settlement })), now);
        let kept: boolean[];
        try {
          kept = await write(batch);
        } catch (err) {
          if (batch.length === 1) {
            batch[0]!.done(err);
            continue;
          }
          // One outcome that cannot be written must not take the others with it: each on its own.
          for (const item of batch) await write([item]).then(([itemKept]) => finished(item, itemKept!), (itemErr: unknown) => item.done(itemErr));
          continue;
        }
        batch.forEach((item, i) => finished(item, kept[i]!));
      }
    } finally {
      settling = false;
    }
  }

  function finished(item: (typeof unsettled)[number], kept: boolean) {
    if (!kept) log.warn({ message: item.message.publicId }, 'outbox: the lease was taken over by another worker before this one finished');
    item.done();
  }

  /** The servers to try, in order: the pinned one, or the one a time-out after DATA ties it to first, else the department's route. */
  async function routeOf(message: ClaimedMessage): Promise<number[]> {
    if (message.pinnedServerId !== null) return [message.pinnedServerId];
    const usable = await cachedRoute(message.department);
    if (message.stickyServerId === null) return usable;
    return [message.stickyServerId, ...usable.filter((id) => id !== message.stickyServerId)];
  }

  async function deliver(message: ClaimedMessage): Promise<void> {
    const { content } = message;
    const attempts: NewAttempt[] = [];
    const tried = [...message.triedServerIds];
    const state = {
      attemptCount: message.attemptCount,
      roundCount: message.roundCount,
      lastServerId: null as number | null,
      lastServerTitle: null as string | null,
      lastReply: null as string | null,
    };
    // Recipients one by one, as an MTA does: those still owed (null: all of them; set as soon as some have it, or some
    // were refused for good), and those refused for good, whom no other server is asked for.
    let pending = message.pendingRecipients;
    const refused: RefusedRecipient[] = [...(message.refusedRecipients ?? [])];
    // Whether some recipient has it: known when nobody was refused for good yet; else only from this claim's deliveries.
    let othersHaveIt = message.pendingRecipients !== null && message.refusedRecipients === null;
    let deliveredNow = false;
    // Set by every settle: an error from then on is the settle's (the lease expires, the message is sent again), never a
    // reason for another settle; only one before it, after a partial delivery, makes those still owed wait a round.
    let concluding = false;
    const finish = (status: Settlement['status'], extra: Partial<Settlement> = {}) => {
      concluding = true;
      return settle(message, {
        status,
        dueAt: null,
        triedServerIds: [],
        stickyServerId: null,
        sentAt: null,
        pendingRecipients: null,
        refusedRecipients: null,
        attempts,
        ...state,
        ...extra,
      });
    };
    const stillOwed = () => ({ pendingRecipients: pending, refusedRecipients: refused.length ? refused : null });
    // Nobody left to try: sent, or failed for those refused for good (they alone are sent it again if an admin retries).
    const concluded = () =>
      refused.length === 0
        ? finish('sent', { sentAt: new Date() })
        : finish('failed', { pendingRecipients: refused.map((r) => r.recipient), lastReply: partlyFailedReplyOf(refused, othersHaveIt) });
    const succeededAt = async (serverId: number) => {
      // Its row is written after a failure, or about once a second: not a write per message on a busy server.
      const written = successWritten.get(serverId);
      if (written === undefined || Date.now() - written > 1000) {
        successWritten.set(serverId, Date.now());
        await stores.outbox.serverSucceeded(serverId, new Date());
      }
    };

    if (content.purged) return finish('failed', { lastReply: ownReplies.purged, pendingRecipients: message.pendingRecipients });
    const route = (await routeOf(message)).filter((id) => !tried.includes(id));
    try {
      return await throughRoute(route);
    } catch (err) {
      // Some recipients have it from this claim: the others wait a round rather than the lease expiring (the next
      // claim would send it to everyone again).
      if (!deliveredNow || concluding) throw err;
      log.error({ err, message: message.publicId }, 'outbox: a message failed after some recipients had it; retried later for the recipients still owed');
      return retryLater(null);
    }

    async function throughRoute(route: number[]): Promise<void> {
      for (const serverId of route) {
        const server = await cachedServer(serverId);
        if (!server || !server.active) continue;
        if (server.rateLimitPerMinute !== null && server.rateLimitPerMinute > 0) {
          const window = minuteOf(new Date());
          if (!(await stores.outbox.reserveSlot(server.id, window, server.rateLimitPerMinute))) {
            // No slot this minute: it waits for the next one, neither an attempt nor a reason to fail over.
            return finish(message.roundCount > 0 ? 'retry' : 'queued', { dueAt: new Date(window.getTime() + 60_000), triedServerIds: tried, stickyServerId: message.stickyServerId, ...stillOwed() });
          }
        }
        const at = new Date();
        const started = performance.now();
        // The logo is read only for a signature that shows it: most messages need no second read.
        const logo = server.signature.includes(logoPlaceholderSrc) ? await stores.logos.find(server.id) : null;
        state.lastServerId = server.id;
        state.lastServerTitle = server.title;
        state.attemptCount += 1;
        let delivery: Delivery;
        try {
          const composition = {
            message: { to: message.to, cc: message.cc, bcc: message.bcc, replyTo: message.replyTo, subject: message.subject, messageId: message.messageId, pendingRecipients: pending },
            content: { text: content.text, html: content.html, attachments: content.attachments },
            sender: { senderName: server.senderName, email: server.email, signature: server.signature },
            logo,
            at,
          };
          delivery = await sender.send(endpointOf(server), composition, () => authOf(server));
        } catch (err) {
          // A message that cannot be composed is no server's failure: its lease expires and it is tried again; unless some
          // recipients have it already from this claim: then it waits a round for the others (see deliver's catch).
          if (!(err instanceof SendFailure)) throw err;
          const failure = err;
          const verdict = verdictOf(failure);
          state.lastReply = replyOf(failure);
          const outcome = verdict === 'failover' ? 'failover' : verdict;
          // Every recipient refused, some for good and others for now: the first are done, the others go on.
          const each = failure.cause.refused ?? [];
          const forGood = verdict === 'failover' ? each.filter(refusedForGood) : [];
          if (forGood.length) {
            refused.push(...forGood.map(refusedRecipientOf));
            pending = each.filter((r) => !refusedForGood(r)).map((r) => r.recipient);
            state.lastReply = `${state.lastReply}; ${ownReplies.refused} ${refusalsText(forGood.map(refusedRecipientOf))}`;
          }
          attempts.push({ at, serverId: server.id, serverTitle: server.title, outcome, reply: state.lastReply, durationMs: Math.round(performance.now() - started) });
          if (brokeTheConnection(failure)) sender.forget(server.id);
          if (verdict !== 'failed') {
            forgetServer(server.id);
            const now = new Date();
            await stores.outbox.serverFailed(server.id, now, state.lastReply, settings.downAfterFailures, new Date(now.getTime() + settings.downForMs));
          }
          if (verdict === 'failed') {
            // The whole message refused for good: failed as it is when nobody has it yet; else for the recipients it was for.
            if (refused.length === 0 && !othersHaveIt) return finish('failed', { pendingRecipients: pending });
            const refusedNow: RefusedRecipient[] = each.length
              ? each.map(refusedRecipientOf)
              : (pending ?? []).map((recipient) => ({ recipient, reply: printable(state.lastReply ?? '', 100) }));
            refused.push(...refusedNow);
            return concluded();
          }
          if (verdict === 'deferred') return retryLater(server.id);
          tried.push(server.id);
          continue;
        }
        state.lastReply = deliveryReplyOf(delivery.response, delivery.refused);
        attempts.push({ at, serverId: server.id, serverTitle: server.title, outcome: 'sent', reply: state.lastReply, durationMs: Math.round(performance.now() - started) });
        if (delivery.accepted.length) othersHaveIt = true;
        refused.push(...delivery.refused.filter(refusedForGood).map(refusedRecipientOf));
        const later = delivery.refused.filter((r) => !refusedForGood(r)).map((r) => r.recipient);
        if (later.length === 0) {
          await concluded();
          await succeededAt(server.id);
          return;
        }
        // Refused for now: those recipients only, to the next server at once (a server that took the others is not failing).
        succeededAt(server.id).catch((err: unknown) => log.error({ err, server: server.id }, 'outbox: a server’s success could not be written'));
        pending = later;
        deliveredNow = true;
        tried.push(server.id);
      }
      // No server tried this round: the reason, while the last server tried before stays the log's (the settle keeps it).
      if (attempts.length === 0 && tried.length === 0) state.lastReply ??= ownReplies.noUsableServer;
      return retryLater(null);
    }

    function retryLater(stickyServerId: number | null) {
      const wait = backoffMs(settings.backoffMs, state.roundCount);
      const due = new Date(Date.now() + wait);
      state.roundCount += 1;
      if (due.getTime() - message.acceptedAt.getTime() > settings.maxAgeMs) {
        return finish('failed', { pendingRecipients: pending === null ? null : [...pending, ...refused.map((r) => r.recipient)] });
      }
      return finish('retry', { dueAt: due, stickyServerId, ...stillOwed() });
    }
  }

  async function keepHouse() {
    try {
      const now = new Date();
      const purged = await stores.transaction((tx) => tx.outbox.purgeBodies(new Date(now.getTime() - settings.retentionDays * 86_400_000), now));
      if (purged) log.info({ purged }, 'outbox: bodies and attachments purged after the retention days');
      await stores.outbox.dropSlotsBefore(new Date(now.getTime() - 120_000));
    } catch (err) {
      log.error({ err }, 'outbox: housekeeping failed');
    }
  }

  return {
    owner,
    /** The server was edited, deactivated or deleted on this instance: its row and the routes are read again at once. */
    forgetServer,
    /** A department's servers or their order changed on this instance. */
    forgetRoutes() {
      routes.clear();
    },
    start() {
      if (running) return;
      running = true;
      void keepHouse();
      housekeeping = setInterval(() => void keepHouse(), housekeepingEveryMs);
      housekeeping.unref();
      void tick();
    },
    /** A message was just stored waiting here: look now rather than at the next poll. */
    wake() {
      wakes += 1;
      drained = false;
      if (running) void tick();
    },
    /** Messages accepted here, taken as they are stored when there is room and nothing older is due (see drained). */
    take: {
      reserve(count: number): AcceptanceLease | null {
        // While a claim is out, its result decides; it was sized for the places free when it left.
        if (!running || ticking || !drained || Date.now() - lastClaimAt > settings.pollMs) return null;
        const taken = Math.min(count, settings.concurrency - inFlight.size - reserved);
        // The rest wait in the outbox: the next claim looks again.
        if (taken < count) drained = false;
        if (taken <= 0) return null;
        reserved += taken;
        return { owner, until: new Date(Date.now() + settings.leaseMs), count: taken };
      },
      handOver(messages: ClaimedMessage[]) {
        // Stopping: they stay leased to this worker in the outbox, and stop() gives them back with the others.
        if (running) for (const message of messages) begin(message);
        unreserve(messages.length);
      },
      release(count: number) {
        unreserve(count);
      },
    } satisfies AcceptanceTaker,
    /** Stops claiming; messages in flight get until the grace period ends, then the leases still held are given back. */
    async stop(graceMs: number) {
      running = false;
      if (timer) clearTimeout(timer);
      if (housekeeping) clearInterval(housekeeping);
      let graceTimer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, graceMs)));
      // Messages being stored leased to it first: once stored, they are among the leases it gives back.
      if (reserved > 0) await Promise.race([new Promise<void>((resolve) => reservationsSettled.push(resolve)), grace]);
      await Promise.race([Promise.allSettled([...inFlight]), grace]);
      clearTimeout(graceTimer);
      try {
        const handed = await stores.outbox.handBack(owner, new Date());
        if (handed) log.info({ handed }, 'outbox: leases of messages still in flight given back');
      } catch (err) {
        log.error({ err }, 'outbox: the leases could not be given back; they will expire');
      }
    },
  };
}

export type OutboxWorker = ReturnType<typeof createOutboxWorker>;
