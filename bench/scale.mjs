// `npm run bench:scale` (issue 21): PDS at national scale. For each size in BENCH_SCALE_SIZES
// (default 1000000,10000000) and each store in BENCH_SCALE_STORES (default sqlite,postgres) it
// seeds a store, or reuses one already holding that many patients, and prints seed rate, peak
// seed RSS, disk per patient, server RSS, read req/s beside a bare Fastify route, algorithmic and
// fuzzy trace latency with how often the true patient ranks first, and PATCH latency; then a
// summary of every size x store measured so far, kept in BENCH_SCALE_DIR/scale-results.json.
//   Stores persist in BENCH_SCALE_DIR (default /work/scale-stores): SQLite in sqlite-<size>/,
// PostgreSQL in database openspine_scale_<size> on BENCH_SCALE_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432; its signing keys in postgres-<size>/). An interrupted seed
// is continued by running again: the seeder skips the patients already present.
//   BENCH_SCALE_QUERIES (default 200) traces of each kind and PATCHes; BENCH_SCALE_SECONDS
// (default 15) of read load per server. Query patients are not listed from the store: the
// generator is a pure function of (seed, index), so random indexes below the size name patients
// the store holds, and their generated records are what the traces look for.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  freePort,
  load,
  percentile,
  procMemoryKb,
  startProcess,
  UNLIMITED,
  waitFor,
} from './lib.mjs';
import {
  analyze,
  diskBytes,
  ensureDatabase,
  patientCount,
  seedStore,
  storeOf,
} from './scale-store.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'bin', 'openspine.js');
const PDS = '/personal-demographics/FHIR/R4';
const SEED = 1;
const list = (v) =>
  v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const SIZES = list(process.env.BENCH_SCALE_SIZES ?? '1000000,10000000').map(Number);
if (!SIZES.every((n) => Number.isSafeInteger(n) && n > 0))
  throw new Error(`BENCH_SCALE_SIZES must be whole numbers of patients, got ${SIZES.join(',')}`);
const STORES = list(process.env.BENCH_SCALE_STORES ?? 'sqlite,postgres');
const DIR = resolve(process.env.BENCH_SCALE_DIR ?? '/work/scale-stores');
const PG_URL = process.env.BENCH_SCALE_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432';
const QUERIES = Number(process.env.BENCH_SCALE_QUERIES ?? 200);
const SECONDS = Number(process.env.BENCH_SCALE_SECONDS ?? 15);
const STAFF = ['--role', 'R8000', '--user', 'bench', '--org', 'A81001']; // the bench's token
const READ_SAMPLE = 1000; // patients the read load rotates over
const RESULTS = join(DIR, 'scale-results.json');

const fmt = (n, d = 0) =>
  n === null || n === undefined || Number.isNaN(n)
    ? '-'
    : Number(n).toLocaleString('en-GB', { maximumFractionDigits: d, minimumFractionDigits: d });
const mb = (kb) => (kb === null || kb === undefined ? null : kb / 1024);

/** A fixed-seed PRNG (mulberry32), so every run draws the same query patients for a size. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `count` distinct generator indexes below `size`, drawn with a fixed seed. Updates change data, so
 * they take odd indexes and traces and reads even ones: disjoint in every run, whatever the counts.
 */
function sampleIndexes(size, count, seed, parity) {
  const rand = prng(seed);
  const half = Math.floor((size - parity + 1) / 2); // indexes of that parity below size
  const chosen = new Set();
  while (chosen.size < Math.min(count, half)) chosen.add(2 * Math.floor(rand() * half) + parity);
  return [...chosen];
}

function serve(store, port) {
  return startProcess(
    [CLI, 'serve', ...store.flags, '--port', `${port}`, '--host', '127.0.0.1'].concat([
      '--log-level',
      'warn',
      ...UNLIMITED,
    ]),
    { cwd: ROOT },
  );
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * PDS reads against the bare Fastify route (bench/bare-server.mjs) in alternating rounds, both
 * clients doing the same work per request, as bench/run.mjs does; medians of the rounds.
 */
async function readVsBare(base, auth, readPatients, serverPid) {
  const bareFile = join(DIR, 'bare-patient.json');
  writeFileSync(bareFile, JSON.stringify(readPatients[0]));
  const barePort = await freePort();
  const bare = startProcess([join(ROOT, 'bench', 'bare-server.mjs'), `${barePort}`, bareFile]);
  try {
    const bareBase = `http://127.0.0.1:${barePort}`;
    await waitFor(`${bareBase}/Patient/1`);
    let i = 0;
    const rotating = (prefix) => (req) => ({
      ...req,
      path: `${prefix}/Patient/${readPatients[i++ % readPatients.length].id}`,
      headers: { ...req.headers, ...auth, 'x-request-id': randomUUID() },
    });
    const bareRun = (duration) =>
      load({ url: bareBase, duration, headers: auth, setupRequest: rotating('') });
    const pdsRun = (duration) =>
      load({ url: base, duration, headers: auth, setupRequest: rotating(PDS) });
    await bareRun(2);
    await pdsRun(2); // warm-up, uncounted
    const serverRssKb = procMemoryKb(serverPid);
    const rounds = 3;
    const per = Math.max(2, Math.round(SECONDS / rounds));
    const bareRuns = [],
      pdsRuns = [];
    for (let round = 0; round < rounds; round++) {
      bareRuns.push(await bareRun(per));
      pdsRuns.push(await pdsRun(per));
    }
    const statuses = {};
    for (const r of pdsRuns)
      for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
    const bareRps = median(bareRuns.map((r) => r.rps));
    const pdsRps = median(pdsRuns.map((r) => r.rps));
    return {
      serverRssKb,
      bareRps,
      pdsRps,
      ratio: (100 * pdsRps) / bareRps,
      roundRatios: bareRuns.map((b, k) => (100 * pdsRuns[k].rps) / b.rps),
      p50: median(pdsRuns.map((r) => r.p50)),
      p95: median(pdsRuns.map((r) => r.p95)),
      per,
      statuses,
    };
  } finally {
    await bare.stop();
  }
}

/** Where the true patient came in a trace's answer; a tie at the top score counts as first. */
function placing(res, body, id) {
  if (res.status !== 200) return `http-${res.status}`;
  if (body.resourceType === 'OperationOutcome') return 'too-many';
  const entries = body.entry ?? [];
  const hit = entries.find((e) => e.resource?.id === id);
  if (!hit) return 'missed';
  const top = Math.max(...entries.map((e) => e.search?.score ?? 0));
  return (hit.search?.score ?? 0) === top ? 'first' : 'lower';
}

/** Sequential traces (algorithmic, then fuzzy with a misspelt family name) for the given patients. */
async function traces(base, auth, patients) {
  const kinds = { algorithmic: { ms: [], places: {} }, fuzzy: { ms: [], places: {} } };
  const run = async (kind, query, id) => {
    const t0 = performance.now();
    const res = await fetch(`${base}${PDS}/Patient?${query}`, {
      headers: { ...auth, 'x-request-id': randomUUID() },
    });
    const body = await res.json();
    const ms = performance.now() - t0;
    if (res.status === 200) kinds[kind].ms.push(ms);
    const place = placing(res, body, id);
    kinds[kind].places[place] = (kinds[kind].places[place] ?? 0) + 1;
  };
  for (const p of patients) {
    // a record superseded in a merge is answered by the record that replaced it
    const truth = p.link?.find((l) => l.type === 'replaced-by')?.other?.identifier?.value ?? p.id;
    const name = p.name.find((n) => n.use === 'usual') ?? p.name[0];
    const family = name.family;
    await run(
      'algorithmic',
      new URLSearchParams({ family, birthdate: `eq${p.birthDate}`, gender: p.gender }),
      truth,
    );
    // misspelt by swapping the second and third letters, as bench/run.mjs does
    const misspelt =
      family.length > 3 ? family[0] + family[2] + family[1] + family.slice(3) : family;
    const fuzzy = { family: misspelt, given: name.given[0], birthdate: `eq${p.birthDate}` };
    await run('fuzzy', new URLSearchParams({ ...fuzzy, '_fuzzy-match': 'true' }), truth);
  }
  const summary = (k) => {
    const ms = k.ms.sort((a, b) => a - b);
    const total = Object.values(k.places).reduce((a, b) => a + b, 0);
    return {
      p50: percentile(ms, 50),
      p95: percentile(ms, 95),
      count: ms.length,
      firstPct: (100 * (k.places.first ?? 0)) / Math.max(1, total),
      places: k.places,
    };
  };
  return { algorithmic: summary(kinds.algorithmic), fuzzy: summary(kinds.fuzzy) };
}

/** PATCHes of each patient's current address postcode with If-Match; only the PATCH is timed. */
async function updates(base, auth, patients) {
  const ms = [];
  const statuses = {};
  for (const [k, p] of patients.entries()) {
    const url = `${base}${PDS}/Patient/${p.id}`;
    const got = await fetch(url, { headers: { ...auth, 'x-request-id': randomUUID() } });
    const current = await got.json();
    const patches = [
      { op: 'test', path: '/address/0/id', value: current.address[0].id },
      { op: 'replace', path: '/address/0/postalCode', value: `LS${1 + (k % 27)} ${k % 10}AB` },
    ];
    const t0 = performance.now();
    const res = await fetch(url, {
      method: 'PATCH',
      headers: {
        ...auth,
        'x-request-id': randomUUID(),
        'content-type': 'application/json-patch+json',
        'if-match': got.headers.get('etag'),
      },
      body: JSON.stringify({ patches }),
    });
    await res.arrayBuffer();
    if (res.status === 200) ms.push(performance.now() - t0);
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
  }
  ms.sort((a, b) => a - b);
  return { p50: percentile(ms, 50), p95: percentile(ms, 95), count: ms.length, statuses };
}

/** One size x store: seed or reuse, then serve and measure. Returns the figures to keep. */
async function measure(kind, size, generate) {
  const store = storeOf(kind, size, DIR, PG_URL);
  mkdirSync(store.dataDir, { recursive: true });
  if (kind === 'postgres') await ensureDatabase(store);
  console.log(
    `\n== ${fmt(size)} patients, ${kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'} (${store.label}) ==`,
  );
  const held = await patientCount(store);
  if (held > size) throw new Error(`the store holds ${fmt(held)} patients, more than ${fmt(size)}`);
  const figures = {
    size,
    store: kind,
    measuredAt: new Date().toISOString(),
    node: process.version,
  };
  if (held === size) {
    console.log(`seed    reused: the store already holds ${fmt(held)} patients`);
    figures.reused = true;
  } else {
    if (held) console.log(`seed    resuming: the store holds ${fmt(held)} of ${fmt(size)}`);
    const s = await seedStore(store, SEED);
    console.log(
      `seed    ${fmt(s.rate)} patients/s (${fmt(s.created)} created, ${fmt(s.skipped)} present, ${fmt(s.seconds, 1)} s; wall ${fmt(s.wallSeconds, 1)} s with start-up), peak RSS ${fmt(mb(s.peakKb))} MB`,
    );
    Object.assign(figures, {
      reused: false,
      seedResumedFrom: held,
      seedRate: s.rate,
      seedSeconds: s.seconds,
      seedWallSeconds: s.wallSeconds,
      seedPeakRssMb: mb(s.peakKb),
    });
  }
  const bytes = await diskBytes(store);
  // a reused store also holds the audit entries earlier bench runs wrote: the summary keeps the
  // figure measured right after seeding
  figures.diskBytesNow = bytes;
  if (!figures.reused) Object.assign(figures, { diskBytes: bytes, bytesPerPatient: bytes / size });
  console.log(
    `disk    ${fmt(bytes / 2 ** 20, 1)} MB = ${fmt(bytes / size)} bytes/patient${figures.reused ? ' now, with what earlier bench runs wrote' : ''}`,
  );

  const analyzed = await analyze(store);
  if (analyzed !== null)
    console.log(
      `vacuum  VACUUM (ANALYZE): visibility map and planner statistics in ${fmt(analyzed, 1)} s`,
    );

  const { patients, reads, updatesOf } = generate(size);
  const token = execFileSync(process.execPath, [CLI, 'token', '--data', store.dataDir, ...STAFF], {
    encoding: 'utf8',
  }).trim();
  const auth = { authorization: `Bearer ${token}` };
  const port = await freePort();
  const server = serve(store, port);
  try {
    const base = `http://127.0.0.1:${port}`;
    const t0 = performance.now();
    await waitFor(`${base}/_ping`, 600_000);
    const startSeconds = (performance.now() - t0) / 1000;
    const r = await readVsBare(base, auth, reads, server.child.pid);
    console.log(
      `server  RSS ${fmt(mb(r.serverRssKb))} MB after warm-up (up in ${fmt(startSeconds, 1)} s)`,
    );
    console.log(
      `read    bare Fastify route ${fmt(r.bareRps)} req/s; PDS GET /Patient/{id} ${fmt(r.pdsRps)} req/s, p50 ${fmt(r.p50, 2)} ms, p95 ${fmt(r.p95, 2)} ms, statuses ${JSON.stringify(r.statuses)}`,
    );
    console.log(
      `        ratio ${fmt(r.ratio, 1)}% of the bare route (median of 3 alternating rounds of ${r.per} s; per round ${r.roundRatios.map((x) => fmt(x, 1) + '%').join(', ')})`,
    );
    const t = await traces(base, auth, patients);
    for (const [kind, label] of [
      ['algorithmic', 'algorithmic (family+birthdate+gender)'],
      ['fuzzy', 'fuzzy (misspelt family, given, birthdate)'],
    ])
      console.log(
        `${kind === 'fuzzy' ? '       ' : 'trace  '} ${label}: p50 ${fmt(t[kind].p50, 1)} ms, p95 ${fmt(t[kind].p95, 1)} ms over ${t[kind].count}; true patient first ${fmt(t[kind].firstPct, 1)}% ${JSON.stringify(t[kind].places)}`,
      );
    const u = await updates(base, auth, updatesOf);
    console.log(
      `update  PATCH address with If-Match: p50 ${fmt(u.p50, 1)} ms, p95 ${fmt(u.p95, 1)} ms over ${u.count}, statuses ${JSON.stringify(u.statuses)}`,
    );
    const serverPeakKb = procMemoryKb(server.child.pid, 'VmHWM');
    console.log(`server  peak RSS ${fmt(mb(serverPeakKb))} MB over the run`);
    return Object.assign(figures, {
      serverStartSeconds: startSeconds,
      serverRssMb: mb(r.serverRssKb),
      serverPeakRssMb: mb(serverPeakKb),
      read: { bareRps: r.bareRps, pdsRps: r.pdsRps, ratioPct: r.ratio, p50: r.p50, p95: r.p95 },
      trace: t,
      update: u,
    });
  } finally {
    await server.stop();
  }
}

/** Patients named by generator index: traces, reads (unrestricted) and updates (unrestricted). */
async function patientSampler() {
  const url = pathToFileURL(join(ROOT, 'dist', 'src', 'seed', 'patient-generator.js'));
  const { createPatientGenerator, PATIENTS_PER_BLOCK } = await import(url.href);
  // the NHS Number block `openspine seed` picks (src/cli/seed.ts): the 999 test range when the
  // seed fits in it, else the national block; patient i differs between the two
  const blockOf = (size) =>
    !PATIENTS_PER_BLOCK || size <= PATIENTS_PER_BLOCK.test ? 'test' : 'national';
  const generators = {};
  const generatorOf = (size) =>
    (generators[blockOf(size)] ??= createPatientGenerator(SEED, blockOf(size)));
  // restricted records are read and patched without their address, so reads and PATCHes skip them
  // (and a superseded record answers with its survivor, so they skip those too)
  const open = (p) => p.meta?.security?.[0]?.code !== 'R' && !p.link?.length;
  return (size) => {
    const patient = (i) => generatorOf(size).generate(i).patient;
    return {
      patients: sampleIndexes(size, QUERIES, 21, 0).map(patient),
      reads: sampleIndexes(size, READ_SAMPLE, 22, 0).map(patient).filter(open),
      updatesOf: sampleIndexes(size, QUERIES, 23, 1).map(patient).filter(open),
    };
  };
}

function summary(results) {
  const rows = Object.values(results).sort(
    (a, b) => a.size - b.size || (a.store < b.store ? -1 : 1),
  );
  const head = [
    'patients',
    'store',
    'seed p/s',
    'B/patient',
    'seed RSS MB',
    'server RSS MB',
    'read %bare',
  ].concat(['algo p50/p95 ms', 'fuzzy p50/p95 ms', 'first % algo/fuzzy', 'update p95 ms']);
  const table = rows.map((r) => [
    fmt(r.size),
    r.store,
    fmt(r.seedRate),
    fmt(r.bytesPerPatient ?? r.diskBytesNow / r.size),
    fmt(r.seedPeakRssMb),
    fmt(r.serverRssMb),
    fmt(r.read?.ratioPct, 1),
    `${fmt(r.trace?.algorithmic.p50, 1)} / ${fmt(r.trace?.algorithmic.p95, 1)}`,
    `${fmt(r.trace?.fuzzy.p50, 1)} / ${fmt(r.trace?.fuzzy.p95, 1)}`,
    `${fmt(r.trace?.algorithmic.firstPct, 1)} / ${fmt(r.trace?.fuzzy.firstPct, 1)}`,
    fmt(r.update?.p95, 1),
  ]);
  const widths = head.map((h, c) => Math.max(h.length, ...table.map((row) => row[c].length)));
  const line = (cells) =>
    cells.map((s, c) => (c < 2 ? s.padEnd(widths[c]) : s.padStart(widths[c]))).join('  ');
  console.log(
    `\nsummary (every size x store in ${RESULTS}; seed figures of a reused store are from when it was seeded)`,
  );
  console.log(line(head));
  for (const row of table) console.log(line(row));
}

mkdirSync(DIR, { recursive: true });
console.log(
  `OpenSpine scale bench: sizes ${SIZES.map((s) => fmt(s)).join(', ')}; stores ${STORES.join(', ')}; ${QUERIES} traces of each kind and updates; ${SECONDS} s of reads; node ${process.version}`,
);
const generate = await patientSampler();
const results = existsSync(RESULTS) ? JSON.parse(readFileSync(RESULTS, 'utf8')) : {};
let failed = 0;
for (const size of SIZES) {
  for (const kind of STORES) {
    try {
      const figures = await measure(kind, size, generate);
      const key = `${size}/${kind}`;
      // a reused store keeps the seed figures measured when it was seeded
      results[key] = figures.reused ? { ...results[key], ...figures } : figures;
      writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n');
    } catch (err) {
      failed++;
      console.error(
        `${fmt(size)} patients on ${kind} failed: ${err instanceof Error ? err.message : err}`,
      );
    }
  }
}
summary(results);
if (failed) process.exitCode = 1;
