import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FastifyBaseLogger } from 'fastify';
import type { NodemailerAuth } from '../smtp/credentials.js';
import type { SmtpSettings } from '../smtp/endpoint.js';
import { SendFailure, type Delivery, type PooledEndpoint } from '../smtp/transports.js';
import { errorOf, factsOf, type AuthFacts, type Composition, type FromThread, type ThreadSettings, type ToThread } from './sending-protocol.js';

export interface SenderOptions {
  connections: number;
  sendTimeoutMs: number;
  log: FastifyBaseLogger;
}

type Provision = Extract<NodemailerAuth, { type: 'OAuth2' }>['provisionCallback'];

// Run from the TypeScript sources (npm start, the tests), the thread registers the same loader before its module.
const threadModule = new URL(`./sending-thread${path.extname(fileURLToPath(import.meta.url))}`, import.meta.url);
const threadEntry = threadModule.pathname.endsWith('.ts')
  ? `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => tsx.register()).then(() => import(${JSON.stringify(threadModule.href)}))`
  : null;

/**
 * The outbox's sending, on a thread of its own (src/outbox/sending-thread.ts): the composing and the SMTP dialogue are
 * half of a message's work, and on the main thread they queued behind the API's answers. Started at the first send.
 * The secrets stay on this side: the thread asks for a server's auth when its pool opens, and for each next OAuth2
 * token, and this side answers from the auth of the server it was sent for. A thread that stops leaves the messages it
 * held as "may have been sent" (retried later on the same server, with the same Message-ID).
 */
export function createSendingThread(settings: SmtpSettings, options: SenderOptions) {
  const workerData: ThreadSettings = {
    smtp: { ...settings, destinations: { allowPrivate: settings.destinations.allowPrivate, allowedNetworks: settings.destinations.allowedNetworks } },
    connections: options.connections,
    sendTimeoutMs: options.sendTimeoutMs,
  };
  let thread: Worker | null = null;
  let lastId = 0;
  const pending = new Map<number, { resolve: (delivery: Delivery) => void; reject: (err: unknown) => void }>();
  // The latest row version sent for each server, with its auth: a pool of another version is answered nothing.
  const authSources = new Map<number, { version: number; auth: () => Promise<NodemailerAuth | undefined> }>();
  const provisions = new Map<number, { version: number; user: string; provision: Provision }>();

  const post = (message: ToThread) => thread?.postMessage(message);
  const taken = (id: number) => {
    const waiting = pending.get(id);
    pending.delete(id);
    return waiting;
  };

  function stopped(worker: Worker, reason: string) {
    if (thread !== worker) return;
    thread = null;
    const lost = Object.assign(new Error(`the sending thread stopped: ${reason}`), { code: 'ETHREAD' });
    for (const { reject } of pending.values()) reject(new SendFailure(lost, true));
    pending.clear();
  }

  function answerAuth(id: number, serverId: number, version: number) {
    const source = authSources.get(serverId);
    if (!source || source.version !== version) return post({ kind: 'auth', id, auth: null, error: { message: 'the server was changed: its pool has no auth' } });
    // A source that throws rather than rejects must not throw in the thread's listener.
    new Promise<Awaited<ReturnType<typeof source.auth>>>((resolve) => resolve(source.auth())).then(
      (auth) => {
        let facts: AuthFacts | null = null;
        if (auth && 'type' in auth) {
          provisions.set(serverId, { version, user: auth.user, provision: auth.provisionCallback });
          facts = { type: 'OAuth2', user: auth.user, accessToken: auth.accessToken, expires: auth.expires };
        } else if (auth) facts = { user: auth.user, pass: auth.pass };
        post({ kind: 'auth', id, auth: facts });
      },
      (err: unknown) => post({ kind: 'auth', id, auth: null, error: factsOf(err) }),
    );
  }

  function answerToken(id: number, serverId: number, version: number, renew: boolean) {
    const entry = provisions.get(serverId);
    if (!entry || entry.version !== version) return post({ kind: 'token', id, error: { message: 'no OAuth2 auth for this server' } });
    entry.provision(entry.user, renew, (err, accessToken, expires) =>
      post(err ? { kind: 'token', id, error: factsOf(err) } : { kind: 'token', id, ...(accessToken === undefined ? {} : { accessToken }), ...(expires === undefined ? {} : { expires }) }),
    );
  }

  function started(): Worker {
    if (thread) return thread;
    const worker = threadEntry ? new Worker(threadEntry, { eval: true, workerData }) : new Worker(threadModule, { workerData });
    // The app's own handles keep the process alive; an idle thread never does.
    worker.unref();
    worker.on('message', (message: FromThread) => {
      switch (message.kind) {
        case 'sent':
          taken(message.id)?.resolve(message.delivery);
          break;
        case 'refused':
          taken(message.id)?.reject(new SendFailure(errorOf(message.cause) as NodeJS.ErrnoException, message.afterData));
          break;
        case 'uncomposed':
          taken(message.id)?.reject(errorOf(message.error));
          break;
        case 'auth':
          answerAuth(message.id, message.serverId, message.version);
          break;
        case 'token':
          answerToken(message.id, message.serverId, message.version, message.renew);
          break;
      }
    });
    worker.on('error', (err) => {
      options.log.error({ err }, 'outbox: the sending thread failed; it starts again at the next message');
      stopped(worker, err.message);
    });
    worker.on('exit', (code) => stopped(worker, `exit ${code}`));
    thread = worker;
    return worker;
  }

  return {
    /** Composes and sends the message through the server's pool; rejects with a SendFailure as the pool does. */
    send(server: PooledEndpoint, composition: Composition, auth: () => Promise<NodemailerAuth | undefined>): Promise<Delivery> {
      authSources.set(server.id, { version: server.version, auth });
      const worker = started();
      const id = ++lastId;
      return new Promise<Delivery>((resolve, reject) => {
        worker.postMessage({ kind: 'send', id, server, composition } satisfies ToThread);
        pending.set(id, { resolve, reject });
      });
    },

    /** The server was edited, deactivated or deleted, or its connection broke: its pool closes. */
    forget(serverId: number) {
      post({ kind: 'forget', serverId });
    },

    /** Closes every pool, then the thread. */
    async close() {
      const worker = thread;
      if (!worker) return;
      const exited = new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        setTimeout(resolve, 2000).unref();
      });
      worker.postMessage({ kind: 'close' } satisfies ToThread);
      await exited;
      await worker.terminate();
    },
  };
}

export type SendingThread = ReturnType<typeof createSendingThread>;
