import type { FastifyInstance } from 'fastify';
import type { NewAttempt, Settlement } from '../src/outbox/store.js';
import type { MessageSummary, OutgoingMessage } from '../src/outbox/types.js';
import { apiOrigin, message } from './outbox-helpers.js';

/** Hands a message to the outbox as the API would; its summary. */
export async function accepted(app: FastifyInstance, overrides: Partial<OutgoingMessage> = {}): Promise<MessageSummary> {
  const outcome = await app.outbox.accept(message(overrides), { origin: apiOrigin });
  if (outcome.kind !== 'accepted') throw new Error(`not accepted: ${outcome.kind}`);
  return outcome.message;
}

/**
 * Writes an outcome for one message through the store, as a worker does after its attempts (claimed, settled, the
 * other claimed messages handed back): the log's pages are tested on what the worker stores.
 */
export async function settled(app: FastifyInstance, id: string, outcome: { status: Settlement['status']; server: { id: number; title: string } | null; attempts: Omit<NewAttempt, 'at'>[]; dueAt?: Date | null }) {
  const now = new Date();
  const owner = `test-${id}`;
  const claimed = await app.stores.outbox.claim(owner, now, new Date(now.getTime() + 60_000), 1_000);
  const mine = claimed.find((c) => c.publicId === id);
  if (!mine) throw new Error(`message ${id} could not be claimed`);
  const last = outcome.attempts[outcome.attempts.length - 1];
  await app.stores.outbox.settle(
    mine.id,
    owner,
    {
      status: outcome.status,
      dueAt: outcome.dueAt ?? null,
      attemptCount: outcome.attempts.length,
      // As the worker counts them: one more for a round that ends in a retry.
      roundCount: mine.roundCount + (outcome.status === 'retry' ? 1 : 0),
      triedServerIds: [],
      stickyServerId: null,
      pendingRecipients: null,
      refusedRecipients: null,
      lastServerId: outcome.server?.id ?? null,
      lastServerTitle: outcome.server?.title ?? null,
      lastReply: last?.reply ?? null,
      sentAt: outcome.status === 'sent' ? now : null,
      attempts: outcome.attempts.map((a) => ({ ...a, at: now })),
    },
    now,
  );
  await app.stores.outbox.handBack(owner, now);
}
