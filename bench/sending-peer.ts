// The other end of bench/sending.ts, in a process of its own so that the process under measure (the app, or raw
// nodemailer) shares no event loop with it: BENCH_PEER=sink (an smtp-server that counts what it receives),
// raw (nodemailer with a pooled transport) or api (an HTTP client posting to POST /api/v1/messages over keep-alive).
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { Pool } from 'undici';

export type PeerCommand =
  | { kind: 'until'; count: number }
  | { kind: 'reset' }
  | { kind: 'raw'; port: number; count: number; connections: number; concurrency: number }
  | { kind: 'api'; url: string; token: string; count: number; concurrency: number }
  | { kind: 'paced'; url: string; token: string; count: number; perSecond: number; connections: number };

export type PeerReport =
  | { kind: 'listening'; port: number }
  | { kind: 'ready' }
  | { kind: 'reached'; count: number; cpuMs: number }
  | { kind: 'sent'; ms: number; cpuMs: number }
  | { kind: 'posted'; ms: number; cpuMs: number; latencies: number[]; refused: number; firstRefusal: string | null };

const send = (report: PeerReport) => process.send!(report);
/** The process's CPU time (user and system) since `from`, in ms. */
const cpuSince = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1000;
};

export const subjectOf = (i: number) => `Facture ${i}`;
export const textOf = (i: number) => `Bonjour,\n\nVeuillez trouver votre facture n°${i}.\n\nCordialement`;
export const htmlOf = (i: number) => `<p>Bonjour,</p><p>Veuillez trouver votre facture n°${i}.</p><p>Cordialement</p>`;
export const recipientOf = (i: number) => `client${i}@exemple.fr`;

/** Up to `concurrency` calls of `job` in flight until `count` are done. */
async function inFlight(count: number, concurrency: number, job: (i: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await job(next++);
    }),
  );
}

function sink() {
  let received = 0;
  let waiting: number | null = null;
  let cpu = process.cpuUsage();
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => {
        received++;
        if (waiting !== null && received >= waiting) {
          waiting = null;
          send({ kind: 'reached', count: received, cpuMs: cpuSince(cpu) });
        }
        callback();
      });
    },
  });
  server.on('error', () => {});
  process.on('message', (command: PeerCommand) => {
    if (command.kind === 'reset') {
      received = 0;
      cpu = process.cpuUsage();
    }
    if (command.kind === 'until') {
      if (received >= command.count) send({ kind: 'reached', count: received, cpuMs: cpuSince(cpu) });
      else waiting = command.count;
    }
  });
  process.on('disconnect', () => server.close(() => process.exit(0)));
  server.listen(0, '127.0.0.1', () => send({ kind: 'listening', port: (server.server.address() as net.AddressInfo).port }));
}

async function raw(command: Extract<PeerCommand, { kind: 'raw' }>) {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: command.port, secure: false, ignoreTLS: true, pool: true, maxConnections: command.connections, maxMessages: Infinity });
  const cpu = process.cpuUsage();
  const started = performance.now();
  await inFlight(command.count, command.concurrency, async (i) => {
    await transport.sendMail({ from: { name: 'Service Vente', address: 'vente@exemple.fr' }, to: [recipientOf(i)], subject: subjectOf(i), text: textOf(i), html: htmlOf(i) });
  });
  const ms = performance.now() - started;
  transport.close();
  send({ kind: 'sent', ms, cpuMs: cpuSince(cpu) });
}

/** Posts message `i` to the API; its answer time is counted from `from` (when it was written, or when it was due). */
function poster(url: string, token: string, connections: number) {
  const pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const latencies: number[] = [];
  let refused = 0;
  let firstRefusal: string | null = null;
  return {
    async post(i: number, from?: number) {
      const body = JSON.stringify({ department: 'vente', to: recipientOf(i), subject: subjectOf(i), text: textOf(i), html: htmlOf(i) });
      const at = from ?? performance.now();
      const res = await pool.request({ method: 'POST', path: '/api/v1/messages', headers, body });
      const answer = await res.body.text();
      latencies.push(performance.now() - at);
      if (res.statusCode !== 202) {
        refused++;
        firstRefusal ??= `${res.statusCode} ${answer}`;
      }
    },
    answers: () => ({ latencies: [...latencies], refused, firstRefusal }),
    reset() {
      latencies.length = 0;
      refused = 0;
      firstRefusal = null;
    },
    async close() {
      await pool.close();
      return { latencies, refused, firstRefusal };
    },
  };
}

/** Closed loop: each connection posts its next message when the last one is answered (as fast as the app answers). */
async function api(command: Extract<PeerCommand, { kind: 'api' }>) {
  const client = poster(command.url, command.token, command.concurrency);
  const cpu = process.cpuUsage();
  const started = performance.now();
  await inFlight(command.count, command.concurrency, (i) => client.post(i));
  const ms = performance.now() - started;
  send({ kind: 'posted', ms, cpuMs: cpuSince(cpu), ...(await client.close()) });
}

/**
 * Open loop: message i is due at i / perSecond seconds, whether the earlier ones were answered or not, and its answer
 * time runs from when it was due, so a post that waited for a free connection, or for this loop, counts its wait.
 */
// Kept from the warm-up to the measured run: its connections are open, as a running client's are.
let pacedClient: { url: string; client: ReturnType<typeof poster> } | null = null;

async function paced(command: Extract<PeerCommand, { kind: 'paced' }>) {
  if (pacedClient?.url !== command.url) pacedClient = { url: command.url, client: poster(command.url, command.token, command.connections) };
  const { client } = pacedClient;
  client.reset();
  const interval = 1000 / command.perSecond;
  const posts: Promise<void>[] = [];
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < command.count; ) {
    const now = performance.now();
    for (; i < command.count && started + i * interval <= now; i++) posts.push(client.post(i, started + i * interval));
    if (i < command.count) await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + i * interval - performance.now())));
  }
  await Promise.all(posts);
  const ms = performance.now() - started;
  send({ kind: 'posted', ms, cpuMs: cpuSince(cpu), ...client.answers() });
}

if (process.env.BENCH_PEER === 'sink') sink();
else if (process.env.BENCH_PEER) {
  process.on('message', (command: PeerCommand) => {
    if (command.kind === 'raw') void raw(command);
    if (command.kind === 'api') void api(command);
    if (command.kind === 'paced') void paced(command);
  });
  process.on('disconnect', () => process.exit(0));
  send({ kind: 'ready' });
}
