// 10,000 messages through the outbox (app.outbox.accept, then the worker) to a local smtp-server sink, beside raw
// nodemailer with a pooled transport sending the same messages to the same sink, on SQLite and on PostgreSQL.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { OutgoingMessage } from '../src/outbox/types.js';
import { benchPostgresUrl, postgresUnreachable } from './listing.js';

const count = Number(process.env.BENCH_MESSAGES) || 10_000;
const connections = 5;
const acceptConcurrency = 20;

function sink() {
  let received = 0;
  let waiter: { n: number; resolve: () => void } | null = null;
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, _session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => {
        received++;
        if (waiter && received >= waiter.n) waiter.resolve();
        callback();
      });
    },
  });
  server.on('error', () => {});
  return new Promise<{ port: number; received: () => number; until: (n: number) => Promise<void>; reset: () => void; close: () => Promise<void> }>((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.server.address() as net.AddressInfo).port,
        received: () => received,
        until: (n) => (received >= n ? Promise.resolve() : new Promise<void>((r) => (waiter = { n, resolve: r }))),
        reset: () => (received = 0),
        close: () => new Promise<void>((r) => server.close(() => r())),
      }),
    ),
  );
}

const messageOf = (i: number): OutgoingMessage => ({
  department: 'vente',
  to: [`client${i}@exemple.fr`],
  cc: [],
  bcc: [],
  replyTo: null,
  subject: `Facture ${i}`,
  text: `Bonjour,\n\nVeuillez trouver votre facture n°${i}.\n\nCordialement`,
  html: `<p>Bonjour,</p><p>Veuillez trouver votre facture n°${i}.</p><p>Cordialement</p>`,
  attachments: [],
});

async function rawNodemailer(port: number): Promise<number> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true, pool: true, maxConnections: connections, maxMessages: Infinity });
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 50 }, async () => {
      while (next < count) {
        const m = messageOf(next++);
        await transport.sendMail({ from: { name: 'Service Vente', address: 'vente@exemple.fr' }, to: m.to, subject: m.subject, text: m.text!, html: m.html! });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  transport.close();
  return count / seconds;
}

function p95(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))]!;
}

async function throughRelais(database: string, port: number, sinkUntil: (n: number) => Promise<void>) {
  const config = loadConfig({
    NODE_ENV: 'test',
    RELAIS_DB: database,
    RELAIS_SECRET: 'bench-sending-secret-bench-sending-secret',
    RELAIS_URL: 'http://relais.bench',
    RELAIS_SMTP_ALLOWED_NETWORKS: '127.0.0.0/8',
    RELAIS_SMTP_POOL_CONNECTIONS: String(connections),
    RELAIS_OUTBOX_POLL_MS: '200',
    LOG_LEVEL: 'warn',
  });
  const app = await buildApp(config, { logger: false });
  try {
    const id = await app.stores.servers.insert({
      title: 'Vente',
      titleKey: 'vente',
      titleSort: 'vente',
      host: '127.0.0.1',
      port,
      security: 'none',
      authentication: 'none',
      email: 'vente@exemple.fr',
      senderName: 'Service Vente',
      username: '',
      usage: 'default',
      verifyCertificate: true,
      signature: '',
      searchText: 'vente',
      passwordCiphertext: null,
    });
    await app.stores.servers.update(id, { confirmationStatus: 'confirmed', confirmedAt: new Date() });
    const latencies: number[] = [];
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: acceptConcurrency }, async () => {
        while (next < count) {
          const m = messageOf(next++);
          const at = performance.now();
          await app.outbox.accept(m, { origin: { kind: 'token', tokenId: 1, name: 'bench' } });
          latencies.push(performance.now() - at);
        }
      }),
    );
    await sinkUntil(count);
    const seconds = (performance.now() - started) / 1000;
    // The log catches up: every message written as sent.
    while ((await app.outbox.list({ status: 'sent', perPage: 1 })).total < count) await new Promise((r) => setTimeout(r, 50));
    const settled = (performance.now() - started) / 1000;
    return { perSecond: count / seconds, settledPerSecond: count / settled, acceptP95: p95(latencies) };
  } finally {
    await app.close();
  }
}

/** Rows for the report: [what, value, note]. */
export async function benchSending(): Promise<string[][]> {
  const rows: string[][] = [];
  const target = await sink();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relais-bench-sending-'));
  try {
    const stores: { kind: string; database: () => Promise<{ url: string; drop: () => Promise<void> }> }[] = [
      { kind: 'SQLite', database: async () => ({ url: path.join(dir, 'sending.sqlite'), drop: async () => {} }) },
    ];
    const unreachable = await postgresUnreachable();
    if (!unreachable) {
      stores.push({
        kind: 'PostgreSQL',
        database: async () => {
          const name = `relais_bench_sending_${process.pid}`;
          const admin = async (text: string) => {
            const client = new pg.Client({ connectionString: benchPostgresUrl });
            await client.connect();
            await client.query(text).finally(() => client.end());
          };
          await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          await admin(`CREATE DATABASE ${name}`);
          const url = new URL(benchPostgresUrl);
          url.pathname = `/${name}`;
          return { url: url.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
        },
      });
    } else rows.push(['PostgreSQL sending', 'skipped', unreachable]);
    for (const store of stores) {
      target.reset();
      const raw = await rawNodemailer(target.port);
      target.reset();
      const database = await store.database();
      try {
        const relais = await throughRelais(database.url, target.port, target.until);
        rows.push([`${store.kind}: raw nodemailer, pooled (${connections} connections), ${count} messages`, `${raw.toFixed(0)} msg/s`, '']);
        rows.push([`${store.kind}: Relais outbox (accept → worker → sink), ${count} messages`, `${relais.perSecond.toFixed(0)} msg/s`, `${((relais.perSecond / raw) * 100).toFixed(0)} % of raw (goal ≥ 80 %)`]);
        rows.push([`${store.kind}: Relais, until the log says sent for all`, `${relais.settledPerSecond.toFixed(0)} msg/s`, '']);
        rows.push([`${store.kind}: app.outbox.accept p95 (${acceptConcurrency} at once)`, `${relais.acceptP95.toFixed(2)} ms`, 'goal ≤ 10 ms']);
      } finally {
        await database.drop();
      }
    }
  } finally {
    await target.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [what, value, note] of await benchSending()) console.log(`${what!.padEnd(72)} ${value!.padStart(14)}   ${note}`);
}
