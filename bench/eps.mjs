// EPS end to end: signed prescriptions prepared, signed, submitted, then released and dispensed,
// per second, on SQLite and on PostgreSQL, beside the floor the real service needs at peak
// (1.7 million a working day of 10 hours, times 5 for peaks: about 240/s).
// Printed per store: prescriptions/s beside the 240/s floor and the 2,000/s aim, and CPU time per
// prescription of the server and of this client (they share the machine's cores).
// Standalone: `node bench/eps.mjs` (bench/run.mjs imports runEpsBench()). The server runs in its
// own process; load is concurrent fetch from this one, each worker driving whole lifecycles.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CompactSign, importJWK } from 'jose';
import { benchServer, benchStores, cpuMs, cpuPerItem, percentile } from './lib.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const EPS = '/electronic-prescriptions/FHIR/R4';
const FLOOR = 240;
const AIM = 2000;
const fmt = (n, d = 0) =>
  Number(n).toLocaleString('en-GB', { maximumFractionDigits: d, minimumFractionDigits: d });

// the compiled CLI when it is built with EPS in it (`npm run bench` builds first), else, or with
// BENCH_EPS_SOURCE=1, the sources through tsx
const built =
  existsSync(join(ROOT, 'dist/src/services/eps/routes.js')) && !process.env.BENCH_EPS_SOURCE;
// BENCH_EPS_NODE_ARGS: extra node flags for the server (e.g. --cpu-prof to see where its time goes)
const nodeArgs = (process.env.BENCH_EPS_NODE_ARGS ?? '').split(' ').filter(Boolean);
const cliArgs = [
  ...nodeArgs,
  ...(built
    ? [join(ROOT, 'bin', 'openspine.js')]
    : [
        '--import',
        'tsx',
        '-e',
        "import('./src/cli/main.ts').then((m) => m.main(process.argv.slice(1)))",
      ]),
];
const order = JSON.parse(
  readFileSync(join(ROOT, 'test/fixtures/eps/prescription-order.Bundle.json'), 'utf8'),
);

// prescribing systems make their own ids: the short-form ID with its ISO/IEC 7064 MOD 37-2 check character
const SYMBOLS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+';
function shortFormId(ods) {
  const hex = randomUUID().replace(/-/g, '').toUpperCase();
  const body = `${hex.slice(0, 6)}-${ods.padStart(6, '0')}-${hex.slice(6, 11)}`;
  let total = 0;
  for (const ch of body.replace(/-/g, '')) total = ((total + SYMBOLS.indexOf(ch)) * 2) % 37;
  return body + SYMBOLS[(38 - total) % 37];
}

/** A prescription-order message with two items for the patient, with fresh ids. */
function orderFor(nhs) {
  const b = structuredClone(order);
  b.identifier.value = randomUUID();
  const requests = b.entry.filter((e) => e.resource.resourceType === 'MedicationRequest');
  b.entry = b.entry.filter(
    (e) => e.resource.resourceType !== 'MedicationRequest' || requests.indexOf(e) < 2,
  );
  b.entry[0].resource.focus = b.entry.slice(1).map((e) => ({ reference: e.fullUrl }));
  b.entry.find((e) => e.resource.resourceType === 'Patient').resource.identifier[0].value = nhs;
  const today = new Date().toISOString().slice(0, 10);
  const ids = { short: shortFormId('A83008'), long: randomUUID() };
  for (const { resource: r } of requests.slice(0, 2)) {
    r.identifier[0].value = randomUUID();
    r.groupIdentifier.value = ids.short;
    r.groupIdentifier.extension[0].valueIdentifier.value = ids.long;
    r.dispenseRequest.validityPeriod = { start: today };
  }
  return b;
}

function dispenseFor(message, nhs) {
  const requests = message.entry
    .filter((e) => e.resource.resourceType === 'MedicationRequest')
    .map((e) => e.resource);
  const patientUrl = `urn:uuid:${randomUUID()}`;
  return {
    resourceType: 'Bundle',
    type: 'message',
    identifier: { value: randomUUID() },
    entry: [
      {
        fullUrl: `urn:uuid:${randomUUID()}`,
        resource: {
          resourceType: 'MessageHeader',
          eventCoding: {
            system: 'https://fhir.nhs.uk/CodeSystem/message-event',
            code: 'dispense-notification',
          },
        },
      },
      {
        fullUrl: patientUrl,
        resource: {
          resourceType: 'Patient',
          identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs }],
        },
      },
      ...requests.map((r) => ({
        fullUrl: `urn:uuid:${randomUUID()}`,
        resource: {
          resourceType: 'MedicationDispense',
          status: 'completed',
          contained: [{ ...r, id: 'm1' }],
          authorizingPrescription: [{ reference: '#m1' }],
          type: {
            coding: [
              { system: 'https://fhir.nhs.uk/CodeSystem/medicationdispense-type', code: '0001' },
            ],
          },
          medicationCodeableConcept: r.medicationCodeableConcept,
          subject: { reference: patientUrl },
          quantity: { value: r.dispenseRequest.quantity.value },
        },
      })),
    ],
  };
}

// node:http with a keep-alive agent rather than fetch: the client shares the machine's two cores with
// the server and the database, and fetch costs it about twice the CPU per request
const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function call(base, method, path, token, body) {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers = { authorization: `Bearer ${token}`, 'x-request-id': randomUUID() };
  if (payload !== undefined)
    Object.assign(headers, {
      'content-type': 'application/fhir+json',
      'content-length': Buffer.byteLength(payload),
    });
  return new Promise((resolve, reject) => {
    const req = http.request(base + EPS + path, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        try {
          const json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          if (res.statusCode !== 200)
            reject(
              new Error(
                `${method} ${path} -> ${res.statusCode} ${JSON.stringify(json).slice(0, 300)}`,
              ),
            );
          else resolve(json);
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

/** One prescription end to end: prepare, sign, submit, release (by token), dispense in full. */
async function lifecycle(base, setup, key, nhs) {
  const message = orderFor(nhs);
  const prepared = await call(base, 'POST', '/$prepare', setup.prescriber, message);
  const digest = prepared.parameter.find((p) => p.name === 'digest').valueString;
  const jws = await new CompactSign(new TextEncoder().encode(digest))
    .setProtectedHeader({ alg: 'ES256', kid: setup.kid })
    .sign(key);
  message.entry.push({
    fullUrl: `urn:uuid:${randomUUID()}`,
    resource: {
      resourceType: 'Provenance',
      signature: [
        {
          type: [{ code: '1.2.840.10065.1.12.1.1' }],
          when: new Date().toISOString(),
          data: Buffer.from(jws).toString('base64'),
        },
      ],
    },
  });
  await call(base, 'POST', '/$process-message', setup.prescriber, message);
  const shortFormId = message.entry.find((e) => e.resource.resourceType === 'MedicationRequest')
    .resource.groupIdentifier.value;
  await call(base, 'POST', '/Task/$release', setup.pharmacy, {
    resourceType: 'Parameters',
    parameter: [{ name: 'group-identifier', valueIdentifier: { value: shortFormId } }],
  });
  await call(
    base,
    'POST',
    '/MedicationDispense/$process-message',
    setup.pharmacy,
    dispenseFor(message, nhs),
  );
}

async function measure(base, setup, seconds, workers) {
  const key = await importJWK(setup.privateJwk, 'ES256');
  let done = 0,
    failed = 0,
    next = 0;
  const times = [];
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const nhs = setup.patients[next++ % setup.patients.length];
      const t0 = performance.now();
      try {
        await lifecycle(base, setup, key, nhs);
        if (!stop) {
          done++;
          times.push(performance.now() - t0);
        }
      } catch (err) {
        failed++;
        if (failed <= 3) console.error(`  lifecycle failed: ${err.message}`);
      }
    }
  };
  const started = performance.now();
  const running = Array.from({ length: workers }, worker);
  await new Promise((r) => setTimeout(r, seconds * 1000));
  stop = true;
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(running);
  times.sort((a, b) => a - b);
  return {
    rate: done / elapsed,
    done,
    failed,
    elapsed,
    p50: percentile(times, 50),
    p95: percentile(times, 95),
  };
}

/** Measures one store; returns the figure (prescriptions per second, end to end). */
async function benchStore(kind, { seconds, workers, patients }) {
  const { base, setup, server, close } = await benchServer(kind, {
    prefix: 'eps',
    root: ROOT,
    cliArgs,
    setupScript: 'test/helpers/eps-bench-setup.ts',
    setupArgs: ['--patients', String(patients)],
  });
  try {
    await measure(base, setup, Math.min(3, seconds), workers); // warm-up, not counted
    const cpuBefore = cpuMs(server.child.pid);
    const clientBefore = process.cpuUsage();
    const result = await measure(base, setup, seconds, workers);
    const cpuAfter = cpuMs(server.child.pid);
    const client = process.cpuUsage(clientBefore);
    result.clientCpuMs = (client.user + client.system) / 1000 / Math.max(1, result.done);
    // server CPU per prescription: what the figure would be per core on a machine with nothing else running
    return {
      ...result,
      serverCpuMs: cpuPerItem(cpuBefore, cpuAfter, result.done),
    };
  } finally {
    await close();
  }
}

export async function runEpsBench(opts = {}) {
  const seconds = opts.seconds ?? Number(process.env.BENCH_EPS_SECONDS ?? 10);
  const workers = opts.workers ?? Number(process.env.BENCH_EPS_WORKERS ?? 32);
  const patients = opts.patients ?? Number(process.env.BENCH_EPS_PATIENTS ?? 500);
  // BENCH_EPS_STORES=sqlite (or postgres) measures one store only
  const only = opts.stores ?? process.env.BENCH_EPS_STORES?.split(',');
  const kinds = await benchStores(only);
  const results = {};
  for (const kind of kinds) {
    const r = await benchStore(kind, { seconds, workers, patients });
    results[kind] = r;
    const cpu =
      r.serverCpuMs === null
        ? ''
        : `; CPU per prescription: server ${fmt(r.serverCpuMs, 2)} ms (${fmt(1000 / r.serverCpuMs)}/s per core; busy ${fmt((100 * r.serverCpuMs * r.rate) / 1000)}% of a core), this client ${fmt(r.clientCpuMs, 2)} ms`;
    console.log(
      `eps     ${kind.padEnd(8)} ${fmt(r.rate)} prescriptions/s end to end  (floor ${FLOOR}/s: ${r.rate >= FLOOR ? 'met' : 'NOT MET'}; aim ${fmt(AIM)}/s: ${r.rate >= AIM ? 'met' : `${fmt((100 * r.rate) / AIM)}%`})` +
        `  [prepare, sign, submit, release, dispense = ${fmt(r.rate * 4)} EPS requests/s; ${r.done} in ${seconds} s, ${workers} workers, p50 ${fmt(r.p50, 1)} ms, p95 ${fmt(r.p95, 1)} ms per prescription, ${r.failed} failed${cpu}]`,
    );
  }
  if (!kinds.includes('postgres') && (!only || only.includes('postgres')))
    console.log('eps     postgres skipped: not reachable');
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runEpsBench().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
