// The outbox's sending thread: composes each message and sends it through the pooled transports, off the thread that
// answers HTTP and writes the database. It holds no secret of its own: a pool that opens asks the main thread for its
// server's auth, and an OAuth2 pool asks it for each next token.
import { parentPort, workerData } from 'node:worker_threads';
import { destinationPolicyOf } from '../smtp/destination.js';
import type { NodemailerAuth } from '../smtp/credentials.js';
import { createTransportPool, SendFailure } from '../smtp/transports.js';
import { composeMessage } from './compose.js';
import { errorOf, factsOf, type AuthFacts, type FromThread, type ThreadSettings, type ToThread } from './sending-protocol.js';

const port = parentPort!;
const settings = workerData as ThreadSettings;
const pool = createTransportPool(
  { ...settings.smtp, destinations: destinationPolicyOf(settings.smtp.destinations.allowPrivate, settings.smtp.destinations.allowedNetworks) },
  { connections: settings.connections, sendTimeoutMs: settings.sendTimeoutMs },
);

const post = (message: FromThread) => port.postMessage(message);
const asked = new Map<number, { resolve: (reply: ToThread & { kind: 'auth' | 'token' }) => void }>();
let lastAsk = 0;
function ask(question: { kind: 'auth'; serverId: number; version: number } | { kind: 'token'; serverId: number; version: number; renew: boolean }): Promise<ToThread & { kind: 'auth' | 'token' }> {
  const id = ++lastAsk;
  return new Promise((resolve) => {
    asked.set(id, { resolve });
    post({ ...question, id });
  });
}

// Asked for the very row version the pool was opened for: after an edit, the old pool never gets the new secret.
async function authOf(serverId: number, version: number): Promise<NodemailerAuth | undefined> {
  const reply = await ask({ kind: 'auth', serverId, version });
  if (reply.kind !== 'auth') throw new Error('auth: unexpected reply');
  if (reply.error) throw errorOf(reply.error);
  const auth: AuthFacts | null = reply.auth;
  if (auth === null) return undefined;
  if (!('type' in auth)) return auth;
  return {
    ...auth,
    provisionCallback: (_user, renew, callback) => {
      ask({ kind: 'token', serverId, version, renew }).then((next) => {
        if (next.kind !== 'token' || next.error || next.accessToken === undefined) return callback(errorOf(next.kind === 'token' && next.error ? next.error : { message: 'no token' }));
        callback(null, next.accessToken, next.expires);
      }, callback);
    },
  };
}

// A Buffer crosses as a plain Uint8Array: the composer wants Buffers again (the same bytes, not a copy).
const bufferOf = (bytes: Uint8Array) => (bytes instanceof Uint8Array ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes);

async function send(request: ToThread & { kind: 'send' }) {
  const { id, server, composition } = request;
  let raw;
  try {
    const content = { ...composition.content, attachments: composition.content.attachments.map((a) => ({ ...a, content: bufferOf(a.content) })) };
    const logo = composition.logo && { ...composition.logo, bytes: bufferOf(composition.logo.bytes) };
    raw = await composeMessage(composition.message, content, composition.sender, logo, composition.at);
  } catch (err) {
    return post({ kind: 'uncomposed', id, error: factsOf(err) });
  }
  try {
    const delivery = await pool.send(server, () => authOf(server.id, server.version), raw);
    post({ kind: 'sent', id, delivery });
  } catch (err) {
    const failure = err instanceof SendFailure ? err : new SendFailure(err as NodeJS.ErrnoException, false);
    post({ kind: 'refused', id, cause: factsOf(failure.cause), afterData: failure.afterData });
  }
}

port.on('message', (message: ToThread) => {
  switch (message.kind) {
    case 'send':
      void send(message);
      break;
    case 'forget':
      pool.forget(message.serverId);
      break;
    case 'auth':
    case 'token': {
      const waiting = asked.get(message.id);
      asked.delete(message.id);
      waiting?.resolve(message);
      break;
    }
    case 'close':
      // The thread ends once its pools' connections are closed: the main side waits for its exit.
      pool.closeAll();
      port.close();
      break;
  }
});
