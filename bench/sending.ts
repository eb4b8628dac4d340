// 10,000 messages posted through the API (POST /api/v1/messages, a token, HTTP over 127.0.0.1 with keep-alive) to the
// outbox, sent by its worker to a local smtp-server sink, beside raw nodemailer with a pooled transport sending the same
// messages to the same sink, on SQLite and on PostgreSQL. The sink, the HTTP client and raw nodemailer each run in a
// child process (bench/sending-peer.ts): the app's process is measured alone, as raw nodemailer's is.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { buildApp } from '../src/app.js';
import { systemActor } from '../src/audit/repository.js';
import { loadConfig } from '../src/config.js';
import { benchPostgresUrl, postgresUnreachable } from './listing.js';
import type { PeerCommand, PeerReport } from './sending-peer.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const count = Number(process.env.BENCH_MESSAGES) || 10_000;
const connections = 5;
const rawConcurrency = 50;
// The HTTP client's keep-alive connections, each with one request in flight (an ERP's senders posting at once).
const apiConcurrency = Number(process.env.BENCH_API_CONCURRENCY) || 10;
// Pairs of runs (raw nodemailer, then Relais) per store.
const rounds = Math.max(1, Math.floor(Number(process.env.BENCH_SENDING_ROUNDS) || 3));

interface Peer {
  child: ChildProcess;
  send(command: PeerCommand): void;
  next<K extends PeerReport['kind']>(kind: K): Promise<Extract<PeerReport, { kind: K }>>;
  close(): Promise<void>;
}

async function peer(role: 'sink' | 'raw' | 'api'): Promise<Peer> {
  const child = fork(path.join(here, 'sending-peer.ts'), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_PEER: role },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const peer: Peer = {
    child,
    send: (command) => child.send(command),
    next: (kind) =>
      new Promise((resolve, reject) => {
        const onExit = (code: number | null) => reject(new Error(`bench peer ${role} exited with ${code}`));
        const onMessage = (report: PeerReport) => {
          if (report.kind !== kind) return;
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve(report as never);
        };
        child.on('message', onMessage);
        child.once('exit', onExit);
      }),
    close: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.disconnect();
      }),
  };
  return peer;
}

/** The machine's busy CPU time in ms, all cores (Linux's /proc/stat; null elsewhere). */
function machineBusyMs(): number | null {
  try {
    const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    return ((user + nice + system + irq + softirq + steal) * 1000) / 100;
  } catch {
    return null;
  }
}

/** Cores kept busy on average since `from` over `seconds` (what every process on the machine used, others' included). */
const coresSince = (from: number | null, seconds: number) => {
  const now = machineBusyMs();
  return from === null || now === null ? null : (now - from) / 1000 / seconds;
};

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function rawNodemailer(sink: Peer, port: number): Promise<{ perSecond: number; cpuMsPerMessage: number; sinkCpuMsPerMessage: number; cores: number | null }> {
  const client = await peer('raw');
  try {
    await client.next('ready');
    sink.send({ kind: 'reset' });
    const reached = sink.next('reached');
    sink.send({ kind: 'until', count });
    const busy = machineBusyMs();
    const started = performance.now();
    const sent = client.next('sent');
    client.send({ kind: 'raw', port, count, connections, concurrency: rawConcurrency });
    const { cpuMs: sinkCpuMs } = await reached;
    const seconds = (performance.now() - started) / 1000;
    return { perSecond: count / seconds, cpuMsPerMessage: (await sent).cpuMs / count, sinkCpuMsPerMessage: sinkCpuMs / count, cores: coresSince(busy, seconds) };
  } finally {
    await client.close();
  }
}

// The API's answer times are measured at the rate the goal names: posts offered at this share of raw nodemailer's rate
// in the same round, open loop. In the closed loop above, an answer's mean is the connections divided by the rate of
// 202s whatever the app does (Little's law): that loop measures the rate, not the answer time.
const pacedShare = 0.8;
const pacedConnections = 64;
const pacedWarmUp = 2_000;

type Load = { kind: 'closed' } | { kind: 'paced'; perSecond: number };

async function throughRelais(database: string, sink: Peer, port: number, load: Load) {
  const config = loadConfig({
    NODE_ENV: 'test',
    RELAIS_DB: database,
    RELAIS_SECRET: 'bench-sending-secret-bench-sending-secret',
    RELAIS_URL: 'http://relais.bench',
    RELAIS_SMTP_ALLOWED_NETWORKS: '127.0.0.0/8',
    RELAIS_SMTP_POOL_CONNECTIONS: String(connections),
    RELAIS_OUTBOX_POLL_MS: '200',
    // As many messages in flight as raw nodemailer has (the default, 16, leaves the worker claiming and settling in
    // smaller groups).
    RELAIS_OUTBOX_CONCURRENCY: String(rawConcurrency),
    // Counted as ever (one write per request), but high enough that the bench's single token is never refused.
    RELAIS_API_RATE_LIMIT_PER_MINUTE: '1000000',
    // No scheduled connection test (it would reach the sink) nor alert pass during the measure.
    RELAIS_HEALTH_CHECK_MINUTES: '0',
    RELAIS_ALERT_INTERVAL_SECONDS: '0',
    // Errors only, on stderr: a worker that cannot write its outcomes shows here instead of the bench waiting forever.
    LOG_LEVEL: 'error',
  });
  const app = await buildApp(config, { logStream: process.stderr });
  const client = await peer('api');
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
    const { secret } = await app.repositories.apiTokens.create({ name: 'ERP (bench)', allDepartments: false, departments: ['vente'] }, systemActor);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    await client.next('ready');
    const untilSent = async (total: number) => {
      while ((await app.outbox.list({ status: 'sent', perPage: 1 })).total < total) await new Promise((r) => setTimeout(r, 20));
    };
    // The answer times are a running server's: first pacedWarmUp messages at the same rate, not measured (the first
    // seconds of a process are its JIT compiling, its connections opening, the sending thread starting).
    const warmUp = load.kind === 'paced' ? pacedWarmUp : 0;
    if (warmUp) {
      sink.send({ kind: 'reset' });
      const warmed = sink.next('reached');
      sink.send({ kind: 'until', count: warmUp });
      const warmPosted = client.next('posted');
      client.send({ kind: 'paced', url, token: secret, count: warmUp, perSecond: (load as Extract<Load, { kind: 'paced' }>).perSecond, connections: pacedConnections });
      await warmPosted;
      await warmed;
      await untilSent(warmUp);
    }
    sink.send({ kind: 'reset' });
    const reached = sink.next('reached');
    sink.send({ kind: 'until', count });
    const posted = client.next('posted');
    const cpu = process.cpuUsage();
    const busy = machineBusyMs();
    const started = performance.now();
    client.send(
      load.kind === 'closed'
        ? { kind: 'api', url, token: secret, count, concurrency: apiConcurrency }
        : { kind: 'paced', url, token: secret, count, perSecond: load.perSecond, connections: pacedConnections },
    );
    const answers = await posted;
    if (answers.refused) throw new Error(`${answers.refused} posts refused, the first: ${answers.firstRefusal}`);
    const { cpuMs: sinkCpuMs } = await reached;
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const cores = coresSince(busy, seconds);
    // The log catches up: every message written as sent.
    await untilSent(warmUp + count);
    const settled = (performance.now() - started) / 1000;
    return {
      perSecond: count / seconds,
      settledPerSecond: count / settled,
      postedPerSecond: count / (answers.ms / 1000),
      cpuMsPerMessage: (used.user + used.system) / 1000 / count,
      clientCpuMsPerMessage: answers.cpuMs / count,
      sinkCpuMsPerMessage: sinkCpuMs / count,
      cores,
      p50: percentile(answers.latencies, 0.5),
      p95: percentile(answers.latencies, 0.95),
      p99: percentile(answers.latencies, 0.99),
    };
  } finally {
    await client.close();
    await app.close();
  }
}

/** Rows for the report: [what, value, note]. */
export async function benchSending(): Promise<string[][]> {
  const rows: string[][] = [];
  const sink = await peer('sink');
  const { port } = await sink.next('listening');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relais-bench-sending-'));
  try {
    let files = 0;
    const stores: { kind: string; database: () => Promise<{ url: string; drop: () => Promise<void> }> }[] = [
      { kind: 'SQLite', database: async () => ({ url: path.join(dir, `sending-${++files}.sqlite`), drop: async () => {} }) },
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
    // BENCH_STORES=sqlite or postgres: that store alone (a profile of one).
    const only = process.env.BENCH_STORES?.toLowerCase();
    for (const store of stores.filter((s) => !only || s.kind.toLowerCase().startsWith(only))) {
      // Raw nodemailer, then Relais, `rounds` times in turn: the machine's speed drifts from one minute to the next, so
      // each ratio is taken within its pair and the median pair is the one reported.
      type Relais = Awaited<ReturnType<typeof throughRelais>>;
      const pairs: { raw: Awaited<ReturnType<typeof rawNodemailer>>; relais: Relais; paced: Relais; offered: number; ratio: number }[] = [];
      const onNewDatabase = async (load: Load) => {
        const database = await store.database();
        try {
          return await throughRelais(database.url, sink, port, load);
        } finally {
          await database.drop();
        }
      };
      for (let round = 0; round < rounds; round++) {
        const raw = await rawNodemailer(sink, port);
        const relais = await onNewDatabase({ kind: 'closed' });
        const offered = raw.perSecond * pacedShare;
        const paced = await onNewDatabase({ kind: 'paced', perSecond: offered });
        pairs.push({ raw, relais, paced, offered, ratio: relais.perSecond / raw.perSecond });
      }
      const ratios = pairs.map((pair) => `${(pair.ratio * 100).toFixed(0)} %`).join(', ');
      const byRatio = [...pairs].sort((a, b) => a.ratio - b.ratio);
      const { raw, relais, paced, offered } = byRatio[Math.floor((byRatio.length - 1) / 2)]!;
      const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
      const medianP95 = median(pairs.map((pair) => pair.paced.p95));
      if (rounds > 1) {
        rows.push([`${store.kind}: ${rounds} rounds, Relais / raw nodemailer, each round`, ratios, `API p95 at ${pacedShare * 100} % of raw: ${pairs.map((pair) => `${pair.paced.p95.toFixed(1)} ms`).join(', ')}`]);
      }
      const medianRound = rounds > 1 ? ' (median round)' : '';
      rows.push([`${store.kind}: raw nodemailer, pooled (${connections} connections), ${count} messages${medianRound}`, `${raw.perSecond.toFixed(0)} msg/s`, '']);
      rows.push([`${store.kind}: Relais (API → outbox → worker → sink), ${count} messages`, `${relais.perSecond.toFixed(0)} msg/s`, `${((relais.perSecond / raw.perSecond) * 100).toFixed(0)} % of raw (goal ≥ 80 %)`]);
      rows.push([`${store.kind}: Relais, until the log says sent for all`, `${relais.settledPerSecond.toFixed(0)} msg/s`, '']);
      rows.push([`${store.kind}: Relais, the API's 202s`, `${relais.postedPerSecond.toFixed(0)} msg/s`, `${apiConcurrency} keep-alive connections`]);
      rows.push([
        `${store.kind}: CPU per message: raw nodemailer's process / Relais's / the HTTP client's`,
        `${raw.cpuMsPerMessage.toFixed(3)} / ${relais.cpuMsPerMessage.toFixed(3)} / ${relais.clientCpuMsPerMessage.toFixed(3)} ms`,
        `Relais ${(relais.cpuMsPerMessage / raw.cpuMsPerMessage).toFixed(1)} × raw`,
      ]);
      const coresText = (n: number | null) => (n === null ? '—' : n.toFixed(2));
      rows.push([
        `${store.kind}: the sink's CPU per message, raw run / Relais run; cores busy on the machine`,
        `${raw.sinkCpuMsPerMessage.toFixed(3)} / ${relais.sinkCpuMsPerMessage.toFixed(3)} ms; ${coresText(raw.cores)} / ${coresText(relais.cores)}`,
        `of ${os.cpus().length}; with ${store.kind === 'PostgreSQL' ? "PostgreSQL's processes and " : ''}other sessions'`,
      ]);
      rows.push([`${store.kind}: API answer p50 / p95 / p99, closed loop (the rate's run)`, `${relais.p50.toFixed(2)} / ${relais.p95.toFixed(2)} / ${relais.p99.toFixed(2)} ms`, `${apiConcurrency} connections, each waiting for its answer`]);
      rows.push([
        `${store.kind}: posts offered at ${pacedShare * 100} % of raw's rate, open loop: delivered`,
        `${paced.perSecond.toFixed(0)} msg/s`,
        `${offered.toFixed(0)} msg/s offered; CPU per message ${paced.cpuMsPerMessage.toFixed(3)} ms; cores busy ${coresText(paced.cores)}`,
      ]);
      rows.push([
        `${store.kind}: API answer p50 / p95 / p99 at ${pacedShare * 100} % of raw's rate (after ${pacedWarmUp} unmeasured)`,
        `${paced.p50.toFixed(2)} / ${paced.p95.toFixed(2)} / ${paced.p99.toFixed(2)} ms`,
        `goal p95 ≤ 10 ms${rounds > 1 ? `; median p95 of the rounds ${medianP95.toFixed(2)} ms` : ''}; from when each post was due`,
      ]);
    }
  } finally {
    await sink.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [what, value, note] of await benchSending()) console.log(`${what!.padEnd(72)} ${value!.padStart(24)}   ${note}`);
}
