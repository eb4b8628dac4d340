import type { FastifyInstance } from 'fastify';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { buildApp, type BuildOptions } from '../src/app.js';
import type { Stores } from '../src/db/stores.js';
import type { OutgoingMessage } from '../src/outbox/types.js';
import { testConfig } from './helper.js';
import type { TestStore } from './stores.js';

/** Short timings so retries, leases and cool-downs happen within a test. */
export const fastOutboxEnv = {
  RELAIS_OUTBOX_POLL_MS: '50',
  RELAIS_OUTBOX_LEASE_SECONDS: '5',
  RELAIS_OUTBOX_BACKOFF_SECONDS: '0.2',
  RELAIS_SERVER_DOWN_SECONDS: '60',
  RELAIS_SMTP_SEND_TIMEOUT_MS: '3000',
  RELAIS_SMTP_CONNECT_TIMEOUT_MS: '1000',
  RELAIS_SMTP_GREETING_TIMEOUT_MS: '1000',
};

/** The real app on the given store, torn down with the test; silent unless given a log stream. */
export async function outboxApp(t: Test, store: TestStore, env: Record<string, string> = {}, options: BuildOptions = { logger: false }): Promise<FastifyInstance> {
  // Not t.testdir() again: it would empty the folder that holds the SQLite file of this very test.
  const dir = store.kind === 'sqlite' ? path.dirname(store.file) : os.tmpdir();
  const app = await buildApp(testConfig(dir, { RELAIS_DB: store.relaisDb, ...fastOutboxEnv, ...env }), options);
  t.teardown(() => app.close());
  return app;
}

export const apiOrigin = { kind: 'token' as const, tokenId: 7, name: 'ERP' };

export function message(overrides: Partial<OutgoingMessage> = {}): OutgoingMessage {
  return {
    department: 'vente',
    to: ['client@exemple.fr'],
    cc: [],
    bcc: [],
    replyTo: null,
    subject: 'Devis 2025-001',
    text: 'Bonjour, voici votre devis.',
    html: null,
    attachments: [],
    ...overrides,
  };
}

/** A confirmed server for these departments, written through the stores (its confirmation as if proven). */
export async function sendingServerFor(
  stores: Stores,
  options: { title: string; port: number; departments?: string[]; usage?: 'default' | 'custom'; rateLimitPerMinute?: number | null; host?: string; security?: 'none' | 'tls' | 'starttls' },
): Promise<number> {
  const { title } = options;
  const id = await stores.servers.insert({
    title,
    titleKey: title.toLowerCase(),
    titleSort: title.toLowerCase(),
    host: options.host ?? '127.0.0.1',
    port: options.port,
    security: options.security ?? 'none',
    authentication: 'none',
    email: `${title.toLowerCase().replace(/\W+/g, '-')}@exemple.fr`,
    senderName: `Service ${title}`,
    username: '',
    usage: options.usage ?? 'custom',
    verifyCertificate: true,
    signature: '',
    searchText: title.toLowerCase(),
    passwordCiphertext: null,
    rateLimitPerMinute: options.rateLimitPerMinute ?? null,
  });
  const all = await stores.departments.list();
  const codes = options.departments ?? ['vente'];
  await stores.servers.setDepartments(id, all.filter((d) => codes.includes(d.code)).map((d) => d.id));
  await stores.servers.update(id, { confirmationStatus: 'confirmed', confirmedAt: new Date() });
  return id;
}

/** Resolves once the message has reached one of these statuses (polling the service, as the pages would). */
export async function until(app: FastifyInstance, id: string, statuses: string[], timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await app.outbox.find(id);
    if (found && statuses.includes(found.status)) return found;
    if (Date.now() > deadline) throw new Error(`message ${id} still ${found?.status} after ${timeoutMs} ms (wanted ${statuses.join('/')})`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
