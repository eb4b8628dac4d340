// Two app instances on one PostgreSQL database: each scheduled check runs once per interval, not once per instance,
// and a check leased by an instance that died is taken over when its lease expires.
import type { FastifyInstance } from 'fastify';
import os from 'node:os';
import t, { type Test } from 'tap';
import { buildApp } from '../src/app.js';
import { offsetOf } from '../src/health-checks/schedule.js';
import { testConfig } from './helper.js';
import { sendingServerFor } from './outbox-helpers.js';
import { startSmtpPeer } from './smtp-peer.js';
import { onPostgres } from './stores.js';

t.setTimeout(240_000);

const intervalMs = 3000;

async function instance(t: Test, url: string): Promise<FastifyInstance> {
  const app = await buildApp(testConfig(os.tmpdir(), { RELAIS_DB: url, RELAIS_HEALTH_CHECK_MINUTES: '0.05', RELAIS_OUTBOX_WORKER: 'false' }), { logger: false });
  t.teardown(() => app.close());
  return app;
}

/** A peer that notes when each check said MAIL FROM (once per check). */
async function timedPeer(t: Test) {
  const checks: number[] = [];
  const peer = await startSmtpPeer(t, {
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onMailFrom(_address, _session, callback) {
      checks.push(Date.now());
      callback();
    },
  });
  return Object.assign(peer, { checks });
}

async function waitFor(what: string, probe: () => boolean, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`${what}: still not after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

onPostgres(t, 'two instances on one database', async (t, url) => {
  // An instance that took a check and died, before the two others start: its lease runs 4 s more.
  const before = await buildApp(testConfig(os.tmpdir(), { RELAIS_DB: url, RELAIS_OUTBOX_WORKER: 'false' }), { logger: false });
  const orphanPeer = await timedPeer(t);
  const orphan = await sendingServerFor(before.stores, { title: 'Repris', port: orphanPeer.port });
  await before.stores.healthChecks.scheduleMissing(() => new Date());
  const leaseUntil = Date.now() + 4000;
  t.same(await before.stores.healthChecks.claim('crashed-instance', new Date(), new Date(leaseUntil), 10), [orphan]);
  t.same(await before.stores.healthChecks.claim('another-instance', new Date(), new Date(leaseUntil), 10), [], 'a held lease is nobody else’s');
  await before.close();

  const a = await instance(t, url);
  const b = await instance(t, url);

  await t.test('each check runs once per interval, not once per instance', async (t) => {
    const peer = await timedPeer(t);
    const id = await sendingServerFor(a.stores, { title: 'Partagé', port: peer.port });
    const started = Date.now();
    await waitFor('five checks', () => peer.checks.length >= 5);
    const elapsedSlots = Math.ceil((Date.now() - started) / intervalMs) + 1;
    // Which of the server's intervals each check fell in: two instances checking on their own would share some.
    const slots = peer.checks.map((at) => Math.floor((at - offsetOf(id, intervalMs)) / intervalMs));
    t.equal(new Set(slots).size, slots.length, `one check per interval (${slots.join(', ')})`);
    t.ok(peer.checks.length <= elapsedSlots, `${peer.checks.length} checks in ${elapsedSlots} intervals`);
    const state = (await b.stores.healthChecks.find(id))!;
    t.equal(state.lastOk, true, 'both instances read the same result');
  });

  await t.test('the lease of the instance that died was taken over once it expired', async (t) => {
    await waitFor('the check taken over', () => orphanPeer.checks.length >= 1);
    t.ok(orphanPeer.checks[0]! >= leaseUntil, 'not before the lease expired');
    const slots = orphanPeer.checks.map((at) => Math.floor((at - offsetOf(orphan, intervalMs)) / intervalMs));
    t.equal(new Set(slots).size, slots.length, 'then once per interval');
    const state = (await a.stores.healthChecks.find(orphan))!;
    t.equal(state.lastOk, true, 'the check that took over wrote its result');
  });
});
