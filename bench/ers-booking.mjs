// e-RS booking end to end: a referral created (a011), its service's free slots searched (a015) and
// the first one booked (a016), per second, on SQLite and on PostgreSQL, beside the national floor
// (e-RS handles about 50,000 referrals a working day of 10 hours: 1.4/s, times 5 for peaks: 7/s)
// and beside a baseline measured on the same server in the same run: reading a referral (a005).
// Standalone: `node bench/ers-booking.mjs` (bench/run.mjs imports ersBookingBench()). The server
// runs in its own process; load is concurrent HTTP from this one, one service per worker so that
// workers do not race each other for slots (the race itself is test/referrals-booking-race.test.ts).
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchServer, benchStores, cpuMs, cpuPerItem, percentile } from './lib.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const STU3 = '/referrals/FHIR/STU3';
const FLOOR = 7;
const fmt = (n, d = 0) =>
  Number(n).toLocaleString('en-GB', { maximumFractionDigits: d, minimumFractionDigits: d });
const built =
  existsSync(join(ROOT, 'dist/src/services/referrals/booking-routes.js')) &&
  !process.env.BENCH_ERS_SOURCE;
const cliArgs = built
  ? [join(ROOT, 'bin', 'openspine.js')]
  : [
      '--import',
      'tsx',
      '-e',
      "import('./src/cli/main.ts').then((m) => m.main(process.argv.slice(1)))",
    ];
const createTemplate = JSON.parse(
  readFileSync(
    join(ROOT, 'test/fixtures/ers/published/createReferral-MinimalRequest.json'),
    'utf8',
  ),
);
const bookTemplate = JSON.parse(
  readFileSync(
    join(ROOT, 'test/fixtures/ers/published/bookOrDeferAppointment-MinimalBooking.json'),
    'utf8',
  ),
);

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function call(base, setup, method, path, body, expect) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = {
    authorization: `Bearer ${setup.referrer}`,
    'x-request-id': randomUUID(),
    'nhsd-ers-business-function': 'REFERRING_CLINICIAN',
    'nhsd-end-user-organisation-ods': setup.org,
    'nhsd-ers-comm-rule-org': setup.org,
  };
  if (payload !== undefined)
    Object.assign(headers, {
      'content-type': 'application/fhir+json',
      'content-length': Buffer.byteLength(payload),
    });
  return new Promise((resolvePromise, reject) => {
    const req = http.request(base + STU3 + path, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        try {
          const json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (res.statusCode !== expect)
            reject(
              new Error(
                `${method} ${path} -> ${res.statusCode} ${JSON.stringify(json).slice(0, 300)}`,
              ),
            );
          else resolvePromise(json);
        } catch (err) {
          reject(err);
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(payload);
  });
}

function createBody(setup, service) {
  const b = structuredClone(createTemplate);
  const param = (name) => b.parameter.find((p) => p.name === name);
  param('eReferralPathwayStart').valueInstant = new Date(Date.now() - 86_400_000).toISOString();
  param('patient').valueIdentifier.value = setup.patient;
  param('shortlist').resource.entry = [
    { item: { identifier: { system: 'http://fhir.nhs.net/Id/ers-service', value: service } } },
  ];
  return b;
}

/** One booking end to end: create the referral, search the service's slots, book the first. */
async function booking(base, setup, service) {
  const referral = await call(
    base,
    setup,
    'POST',
    '/ReferralRequest/$ers.createReferral',
    createBody(setup, service),
    201,
  );
  const found = await call(
    base,
    setup,
    'GET',
    `/Slot?schedule.actor:HealthcareService=${service}&appointmentType=URGENT&status=free&_count=5&page=1`,
    undefined,
    200,
  );
  const slot = found.entry.find((e) => e.resource.resourceType === 'Slot').resource.id;
  const b = structuredClone(bookTemplate);
  b.slot = [{ reference: `Slot/${slot}` }];
  b.incomingReferral = [{ reference: `ReferralRequest/${referral.id}/_history/1` }];
  b.participant[0].actor.identifier.value = service;
  b.participant[1].actor.identifier.value = setup.patient;
  await call(base, setup, 'POST', '/Appointment', b, 201);
  return referral.id;
}

async function measure(seconds, workers, step) {
  let done = 0,
    failed = 0,
    stop = false;
  const times = [];
  const worker = async (w) => {
    while (!stop) {
      const t0 = performance.now();
      try {
        await step(w);
        if (!stop) {
          done++;
          times.push(performance.now() - t0);
        }
      } catch (err) {
        failed++;
        if (failed <= 3) console.error(`  failed: ${err.message}`);
      }
    }
  };
  const started = performance.now();
  const running = Array.from({ length: workers }, (_, w) => worker(w));
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stop = true;
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(running);
  times.sort((a, b) => a - b);
  return {
    rate: done / elapsed,
    done,
    failed,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
  };
}

async function benchStore(kind, { seconds, workers }) {
  const { base, setup, server, close } = await benchServer(kind, {
    prefix: 'ers',
    root: ROOT,
    cliArgs,
    setupScript: 'test/helpers/ers-booking-bench-setup.ts',
    setupArgs: ['--services', String(workers)],
  });
  try {
    const book = (w) => booking(base, setup, setup.services[w % setup.services.length]);
    await measure(Math.min(3, seconds), workers, book); // warm-up, not counted
    const ubrn = await book(0);
    const read = await measure(seconds, workers, () =>
      call(base, setup, 'GET', `/ReferralRequest/${ubrn}`, undefined, 200),
    );
    const cpuBefore = cpuMs(server.child.pid);
    const result = await measure(seconds, workers, book);
    const cpuAfter = cpuMs(server.child.pid);
    return {
      ...result,
      baseline: read.rate,
      serverCpuMs: cpuPerItem(cpuBefore, cpuAfter, result.done),
    };
  } finally {
    await close();
  }
}

export async function ersBookingBench(opts = {}) {
  const seconds = opts.seconds ?? Number(process.env.BENCH_ERS_SECONDS ?? 10);
  const workers = opts.workers ?? Number(process.env.BENCH_ERS_WORKERS ?? 8);
  const only = opts.stores ?? process.env.BENCH_ERS_STORES?.split(',');
  const kinds = await benchStores(only);
  const results = {};
  for (const kind of kinds) {
    const r = await benchStore(kind, { seconds, workers });
    results[kind] = r;
    const cpu =
      r.serverCpuMs === null ? '' : `; server CPU ${fmt(r.serverCpuMs, 2)} ms per booking`;
    console.log(
      `ers     ${kind.padEnd(8)} ${fmt(r.rate, 1)} bookings/s end to end (floor ${FLOOR}/s: ${r.rate >= FLOOR ? 'met' : 'NOT MET'}, ${fmt(r.rate / FLOOR, 1)}x)` +
        `  beside ${fmt(r.baseline)} referral reads/s on the same server (a booking costs ${fmt(r.baseline / Math.max(r.rate, 0.001), 1)} reads)` +
        `  [create a011 + search a015 + book a016; ${r.done} in ${seconds} s, ${workers} workers, p50 ${fmt(r.p50, 1)} ms, p95 ${fmt(r.p95, 1)} ms, ${r.failed} failed${cpu}]`,
    );
  }
  if (!kinds.includes('postgres') && (!only || only.includes('postgres')))
    console.log('ers     postgres skipped: not reachable');
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  ersBookingBench().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
