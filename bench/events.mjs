// Messaging figures for `npm run bench` (also runnable alone: node bench/events.mjs after npm run build).
// 1. Events published and delivered per second through the bus, embedded (SQLite, PostgreSQL) and
//    NATS JetStream (PostgreSQL outbox), each beside a baseline measured in the same run: the same
//    commits without a message (embedded), and bare JetStream publish-and-consume of the same
//    payloads with the nats client (NATS).
// 2. End-to-end notification latency: a PDS address change on a served node until its signed
//    notification reaches a subscriber's endpoint, p50/p95, beside the PATCH round trip itself.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { connect, headers as natsHeaders } from 'nats';
import { freePort, percentile, startProcess, waitFor } from './lib.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'openspine.js');
const dist = (p) => import(join(ROOT, 'dist', 'src', p));
const { openRepository } = await dist('store/open.js');
const { createBus } = await dist('messaging/create-bus.js');

const EVENTS = Number(process.env.BENCH_EVENTS ?? 5000);
const KEYS = 500;
const PUBLISHERS = 16;
const NOTIFICATIONS = Number(process.env.BENCH_NOTIFICATIONS ?? 200);
const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const NATS_URL = process.env.BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
const fmt = (n, d = 0) =>
  Number(n).toLocaleString('en-GB', { maximumFractionDigits: d, minimumFractionDigits: d });
const body = (i) => ({ nhsNumber: String(9000000000 + (i % KEYS)), change: 'address', n: i });

/** A throwaway store: a temp data dir, or a fresh PostgreSQL schema. */
async function scratchStore(kind) {
  const dataDir = mkdtempSync(join(tmpdir(), 'openspine-bench-events-'));
  const schema = 'bench_' + randomUUID().replace(/-/g, '').slice(0, 16);
  if (kind === 'postgres') await sql(`CREATE SCHEMA ${schema}`);
  const config = {
    store: kind,
    dataDir,
    databaseUrl: DATABASE_URL,
    databaseSchema: kind === 'postgres' ? schema : 'public',
  };
  return {
    config,
    cleanup: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      if (kind === 'postgres') await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    },
  };
}

async function deleteStream(name) {
  const nc = await connect({ servers: NATS_URL });
  try {
    await (await nc.jetstreamManager()).streams.delete(name).catch(() => {});
  } finally {
    await nc.close();
  }
}

async function sql(text) {
  const client = new pg.Client({ connectionString: DATABASE_URL });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Commits `EVENTS` batches from PUBLISHERS concurrent loops; `withMessage` adds one outbox message to each. */
async function publishAll(repo, withMessage) {
  let next = 0;
  const audit = (i) => ({
    time: new Date().toISOString(),
    requestId: randomUUID(),
    userId: 'bench',
    role: 'R8000',
    org: 'A81001',
    patient: body(i).nhsNumber,
    action: 'bench.event',
    outcome: 'success',
  });
  await Promise.all(
    Array.from({ length: PUBLISHERS }, async () => {
      for (let i = next++; i < EVENTS; i = next++) {
        await repo.commit({
          audit: [audit(i)],
          messages: withMessage
            ? [
                {
                  id: randomUUID(),
                  topic: 'bench.patient.changed',
                  key: body(i).nhsNumber,
                  body: body(i),
                },
              ]
            : undefined,
        });
      }
    }),
  );
}

/** Events per second through the configured bus: from the first commit until the consumer has every message. */
async function busRate(kind, messaging) {
  const { config, cleanup } = await scratchStore(kind);
  const stream = 'BENCH_' + randomUUID().replace(/-/g, '').slice(0, 12);
  const repo = await openRepository(config);
  try {
    const t0 = performance.now();
    await publishAll(repo, false);
    const baselineRate = EVENTS / ((performance.now() - t0) / 1000);

    const bus = await createBus(
      { messaging, natsUrl: NATS_URL, natsStream: stream, nodeId: 'bench', messagePollMs: 20 },
      repo,
    );
    const seen = new Set();
    let done;
    const all = new Promise((r) => {
      done = r;
    });
    bus.consume({ name: 'bench.consumer', topics: ['bench.patient.*'] }, async (m) => {
      seen.add(m.id);
      if (seen.size === EVENTS) done();
    });
    await bus.start();
    const t1 = performance.now();
    await publishAll(repo, true);
    const published = performance.now();
    await all;
    const elapsed = (performance.now() - t1) / 1000;
    await bus.stop();
    return {
      baselineRate,
      publishRate: EVENTS / ((published - t1) / 1000),
      deliveredRate: EVENTS / elapsed,
      stream,
    };
  } finally {
    await repo.close();
    await cleanup();
    if (messaging === 'nats') await deleteStream(stream);
  }
}

/** Bare JetStream: publish the same payloads with message ids, consume with explicit acks. */
async function bareJetStreamRate() {
  const nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  const stream = 'BARE_' + randomUUID().replace(/-/g, '').slice(0, 12);
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
  try {
    const js = nc.jetstream();
    await jsm.consumers.add(stream, { durable_name: 'bare', ack_policy: 'explicit' });
    const consumer = await js.consumers.get(stream, 'bare');
    const t0 = performance.now();
    let next = 0;
    const publishing = Promise.all(
      Array.from({ length: PUBLISHERS }, async () => {
        for (let i = next++; i < EVENTS; i = next++) {
          const h = natsHeaders();
          h.set('Nats-Msg-Id', randomUUID());
          await js.publish(`${stream}.p${i % 8}`, JSON.stringify(body(i)), { headers: h });
        }
      }),
    );
    let received = 0;
    const messages = await consumer.consume();
    for await (const m of messages) {
      m.ack();
      if (++received === EVENTS) break;
    }
    await publishing;
    return EVENTS / ((performance.now() - t0) / 1000);
  } finally {
    await jsm.streams.delete(stream).catch(() => {});
    await nc.close();
  }
}

/** Latency from a PDS address change to its notification at a subscriber, on a served node. */
async function notificationLatency(label, storeArgs, extraArgs) {
  const dataDir = mkdtempSync(join(tmpdir(), 'openspine-bench-nems-'));
  const arrivals = new Map();
  const receiver = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const bundle = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const patient = bundle.entry.find((e) => e.resource.resourceType === 'Patient').resource;
      arrivals.set(`${patient.id}/${patient.meta.versionId}`, performance.now());
      res.writeHead(200).end();
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  const port = await freePort();
  const flags = ['--data', dataDir, ...storeArgs(dataDir)];
  const server = startProcess([
    CLI,
    'serve',
    ...flags,
    '--port',
    String(port),
    '--log-level',
    'warn',
    '--rate-limit-user',
    '0',
    '--rate-limit-app',
    '0',
    ...extraArgs,
  ]);
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${base}/_ping`);
    const token = execFileSync(
      process.execPath,
      [CLI, 'token', ...flags, '--role', 'R8000', '--user', 'bench', '--org', 'A81001'],
      { encoding: 'utf8' },
    ).trim();
    const call = async (method, path, payload, extra = {}) => {
      const res = await fetch(base + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          'x-request-id': randomUUID(),
          'content-type': 'application/fhir+json',
          ...extra,
        },
        body: payload && JSON.stringify(payload),
      });
      return {
        status: res.status,
        etag: res.headers.get('etag'),
        json: await res.json().catch(() => null),
      };
    };
    const patients = [];
    for (let i = 0; i < 10; i++) {
      const birth = JSON.parse(
        readFileSync(
          join(ROOT, 'test/fixtures/pds/requests/PatientCreate/create-patient.json'),
          'utf8',
        ),
      );
      birth.name[0].family = `Latency${'abcdefghij'[i]}`;
      birth.birthDate = `2026-01-${String(10 + i)}`;
      birth.address = [{ ...birth.address[0], period: { start: '2024-01-01' } }];
      const created = await call('POST', '/personal-demographics/FHIR/R4/Patient', birth);
      if (created.status !== 201)
        throw new Error(
          `birth refused: ${created.status} ${JSON.stringify(created.json).slice(0, 200)}`,
        );
      const nhs = created.json.id;
      const sub = await call('POST', '/events/FHIR/R4/Subscription', {
        resourceType: 'Subscription',
        status: 'requested',
        reason: 'latency bench',
        criteria: `/Bundle?type=message&MessageHeader.event=pds-change-of-address-1&Patient.identifier=https://fhir.nhs.uk/Id/nhs-number|${nhs}`,
        channel: {
          type: 'rest-hook',
          endpoint: `http://127.0.0.1:${receiver.address().port}/nems`,
          payload: 'application/fhir+json',
        },
      });
      if (sub.status !== 201) throw new Error(`subscription refused: ${sub.status}`);
      patients.push({ nhs, etag: created.etag, addressId: created.json.address[0].id });
    }
    const sent = new Map();
    const roundTrips = [];
    for (let n = 0; n < NOTIFICATIONS; n++) {
      const p = patients[n % patients.length];
      const t = performance.now();
      const res = await call(
        'PATCH',
        `/personal-demographics/FHIR/R4/Patient/${p.nhs}`,
        {
          patches: [
            { op: 'test', path: '/address/0/id', value: p.addressId },
            { op: 'replace', path: '/address/0/postalCode', value: `LS${n % 30} ${n % 10}AB` },
          ],
        },
        { 'content-type': 'application/json-patch+json', 'if-match': p.etag },
      ); // the address's id first, as PDS requires
      roundTrips.push(performance.now() - t);
      if (res.status !== 200)
        throw new Error(`PATCH refused: ${res.status} ${JSON.stringify(res.json).slice(0, 200)}`);
      p.etag = res.etag;
      sent.set(`${p.nhs}/${/W\/"(\d+)"/.exec(res.etag)[1]}`, t);
      // a steady clinical pace rather than a flood: latency, not throughput, is measured here
      await new Promise((r) => setTimeout(r, 20));
    }
    const until = Date.now() + 60_000;
    while ([...sent.keys()].some((k) => !arrivals.has(k)) && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    const latencies = [...sent]
      .filter(([k]) => arrivals.has(k))
      .map(([k, t]) => arrivals.get(k) - t)
      .sort((a, b) => a - b);
    roundTrips.sort((a, b) => a - b);
    console.log(
      `        ${label}: notification p50 ${fmt(percentile(latencies, 50), 1)} ms, p95 ${fmt(percentile(latencies, 95), 1)} ms over ${latencies.length}/${sent.size} changes; ` +
        `the PATCH round trip itself p50 ${fmt(percentile(roundTrips, 50), 1)} ms, p95 ${fmt(percentile(roundTrips, 95), 1)} ms (baseline)`,
    );
  } finally {
    await server.stop();
    receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function eventsBench() {
  console.log(
    `\nevents  ${fmt(EVENTS)} events over ${KEYS} keys from ${PUBLISHERS} concurrent publishers, each a commit with an audit entry and one outbox message`,
  );
  for (const [kind, messaging] of [
    ['sqlite', 'embedded'],
    ['postgres', 'embedded'],
    ['postgres', 'nats'],
  ]) {
    const r = await busRate(kind, messaging);
    console.log(
      `        ${messaging} bus on ${kind}: ${fmt(r.deliveredRate)} events/s published and delivered (commits alone ${fmt(r.publishRate)}/s); ` +
        `same commits without a message ${fmt(r.baselineRate)}/s (baseline), ratio ${fmt((100 * r.deliveredRate) / r.baselineRate, 1)}%`,
    );
  }
  const bare = await bareJetStreamRate();
  console.log(
    `        bare JetStream publish (with Nats-Msg-Id) and consume of the same payloads: ${fmt(bare)} events/s (NATS baseline)`,
  );
  console.log(
    "\nnotify  PDS address change -> signed NEMS notification at the subscriber's endpoint, one node",
  );
  await notificationLatency('embedded bus, SQLite', () => [], []);
  const schema = 'bench_' + randomUUID().replace(/-/g, '').slice(0, 16);
  const stream = 'BENCH_' + schema.slice(6, 18);
  await sql(`CREATE SCHEMA ${schema}`);
  try {
    await notificationLatency(
      'NATS bus, PostgreSQL',
      () => ['--store', 'postgres', '--database-url', DATABASE_URL, '--database-schema', schema],
      ['--messaging', 'nats', '--nats-url', NATS_URL, '--nats-stream', stream],
    );
  } finally {
    await sql(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await deleteStream(stream);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await eventsBench();
