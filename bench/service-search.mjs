// e-RS patient service search ($ers.searchHealthcareServicesForPatient, a010) over 10,000 e-RS
// services on SQLite: p50/p95 of sequential searches for one patient, printed beside a baseline
// measured on the same server in the same run: a PDS read of that patient (token, RBAC, patient
// read, audit write: the platform path a search also takes, without the search itself).
// Setup writes straight into the store: the demo directory (its trusts and their e-RS clinics), then
// services up to BENCH_ERS_SERVICES e-RS services in all, spread over 20 specialties of 5 clinic
// types each, at the demo trusts and at postcodes across the demo districts.
// Standalone: `node bench/service-search.mjs` (bench/run.mjs imports serviceSearchBench()); it uses
// the built dist/ when present (`npm run bench` builds first), else the sources through tsx.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { freePort, percentile, startProcess, UNLIMITED, waitFor } from './lib.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const built =
  existsSync(join(ROOT, 'dist/src/services/referrals/search-routes.js')) &&
  !process.env.BENCH_ERS_SOURCE;
const cliArgs = built
  ? [join(ROOT, 'bin', 'openspine.js')]
  : [
      '--import',
      'tsx',
      '-e',
      "import('./src/cli/main.ts').then((m) => m.main(process.argv.slice(1)))",
    ];
const SEARCH = '/referrals/FHIR/STU3/HealthcareService/$ers.searchHealthcareServicesForPatient';
const PDS = '/personal-demographics/FHIR/R4';
const ORG = 'A81001';
const fmt = (n, d = 0) =>
  Number(n).toLocaleString('en-GB', { maximumFractionDigits: d, minimumFractionDigits: d });

/** A module of the project: compiled when built, else the TypeScript source through tsx. */
async function project(path) {
  if (built) return import(pathToFileURL(join(ROOT, 'dist', 'src', `${path}.js`)).href);
  const { tsImport } = await import('tsx/esm/api');
  return tsImport(pathToFileURL(join(ROOT, 'src', `${path}.ts`)).href, import.meta.url);
}

/** A small deterministic generator, so every run benches the same directory. */
function rng(seed) {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s % n;
  };
}

const SPECIALTIES = [
  'CARDIOLOGY',
  'DERMATOLOGY',
  'GENERAL_SURGERY',
  'ALLERGY',
  'AUDIOLOGICAL_MEDICINE',
  'ADULT_MENTAL_ILLNESS',
  'GASTROENTEROLOGY',
  'ENT',
  'UROLOGY',
  'NEUROLOGY',
  'RHEUMATOLOGY',
  'OPHTHALMOLOGY',
  'GYNAECOLOGY',
  'ORTHOPAEDICS',
  'RESPIRATORY',
  'ENDOCRINOLOGY',
  'HAEMATOLOGY',
  'NEPHROLOGY',
  'PAEDIATRICS',
  'GERIATRIC_MEDICINE',
];

/** Writes the bench directory and one patient into a fresh SQLite store; returns the patient's NHS Number. */
async function setUp(dataDir, total) {
  const [{ loadConfig }, { openRepository }, directory, pds, generator, pools] = await Promise.all([
    project('config'),
    project('store/open'),
    project('services/directory/index'),
    project('services/pds/index'),
    project('seed/patient-generator'),
    project('seed/generator-pools'),
  ]);
  const repo = await openRepository({ ...loadConfig({}, {}), store: 'sqlite', dataDir });
  try {
    await directory.seedDirectory(repo, 1);
    const demo = await repo.search({
      type: 'HealthcareService',
      criteria: [
        {
          any: [
            { param: 'ers-flow', op: 'eq', value: 'BOOKABLE' },
            { param: 'ers-flow', op: 'eq', value: 'TRIAGE' },
          ],
        },
      ],
      limit: 100_000,
    });
    const trusts = (
      await repo.readMany('Organization', ['RR8', 'RAE', 'R0A', 'RRK', 'REM', 'RHQ', 'RTD', 'RX1'])
    ).map((o) => o.id);
    const r = rng(0xe125);
    const areas = pools.AREAS;
    const writes = [];
    for (let i = demo.length; i < total; i++) {
      const specialty = SPECIALTIES[i % SPECIALTIES.length];
      const area = areas[r(areas.length)];
      const postcode = `${area.code}${area.districts[r(area.districts.length)]} ${r(10)}AB`;
      const bookable = r(3);
      const doc = directory.buildHealthcareService({
        id: `bench-ers-${i}`,
        org: trusts[r(trusts.length)],
        name: `${specialty.toLowerCase().replace(/_/g, ' ')} clinic ${i}`,
        types: ['outpatients'],
        active: r(50) !== 0,
        endpoints: [],
        address: { lines: [`${1 + r(200)} High Street`], town: area.town, postcode },
        ers: {
          specialty,
          clinicTypes: [`${specialty}_${1 + r(5)}`],
          flow: bookable === 2 ? 'TRIAGE' : 'BOOKABLE',
          ...(bookable === 2
            ? {}
            : { bookable: bookable ? 'DIRECTLY_BOOKABLE' : 'INDIRECTLY_BOOKABLE' }),
          priorities: ['ROUTINE', 'URGENT', ...(r(4) ? [] : ['TWO_WEEK_WAIT'])],
          adviceAndGuidance: r(3) === 0,
          ...(r(10) ? {} : { restrictedTo: ['B82001'] }),
          ...(bookable === 2 ? {} : { waitDays: 3 + r(120) }),
        },
      });
      writes.push({
        type: 'HealthcareService',
        id: doc.id,
        expectedVersion: 0,
        resource: doc,
        index: directory.indexHealthcareService(doc),
      });
    }
    for (let from = 0; from < writes.length; from += 1000)
      await repo.commit({ resources: writes.slice(from, from + 1000) });
    const { patient } = generator.createPatientGenerator(1).generate(0);
    await repo.commit({
      resources: [
        {
          type: 'Patient',
          id: patient.id,
          expectedVersion: 0,
          resource: patient,
          index: pds.indexPatient(patient),
        },
      ],
    });
    const count = (
      await repo.search({
        type: 'HealthcareService',
        criteria: [
          {
            any: [
              { param: 'ers-flow', op: 'eq', value: 'BOOKABLE' },
              { param: 'ers-flow', op: 'eq', value: 'TRIAGE' },
            ],
          },
        ],
        limit: 100_000,
      })
    ).length;
    return { nhs: patient.id, services: count, postcode: patient.address?.[0]?.postalCode };
  } finally {
    await repo.close();
  }
}

function searchBody(nhs, specialty, clinicType, distanceLimit) {
  const criteria = [
    {
      name: 'priority',
      valueCoding: { system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-Priority-1', code: 'URGENT' },
    },
    {
      name: 'specialty',
      valueCoding: { system: '_baseUrl_/STU3/CodeSystem/SPECIALTY', code: specialty },
    },
    ...(clinicType
      ? [
          {
            name: 'clinicType',
            valueCoding: {
              system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ClinicType-1',
              code: clinicType,
            },
          },
        ]
      : []),
    ...(distanceLimit === undefined
      ? []
      : [{ name: 'distanceLimit', valueUnsignedInt: distanceLimit }]),
    { name: 'ageAndGenderAppropriate', valueBoolean: true },
  ];
  return JSON.stringify({
    resourceType: 'Parameters',
    meta: {
      profile: [
        'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-PatientServiceSearch-Parameters-1',
      ],
    },
    parameter: [
      {
        name: 'requestType',
        valueCoding: {
          system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-RequestType-1',
          code: 'APPOINTMENT_REQUEST',
        },
      },
      {
        name: 'sortBy',
        valueCoding: {
          system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-SortBy-1',
          code: 'DISTANCE',
        },
      },
      {
        name: 'patient',
        valueIdentifier: { system: 'http://fhir.nhs.net/Id/nhs-number', value: nhs },
      },
      { name: 'searchCriteria', resource: { resourceType: 'Parameters', parameter: criteria } },
    ],
  });
}

/** Sequential requests (after a warm-up); latencies in ms, sorted, and the answers' statuses. */
async function timed(count, request) {
  const times = [];
  const statuses = {};
  for (let i = -Math.min(30, count); i < count; i++) {
    const t0 = performance.now();
    const res = await request(i);
    const body = await res.json();
    const ms = performance.now() - t0;
    if (i < 0) continue;
    times.push(ms);
    statuses[res.status] = (statuses[res.status] ?? 0) + 1;
    if (res.status !== 200 && statuses[res.status] === 1)
      console.error(JSON.stringify(body).slice(0, 300));
  }
  return { times: times.sort((a, b) => a - b), statuses };
}

export async function serviceSearchBench(opts = {}) {
  const total = opts.services ?? Number(process.env.BENCH_ERS_SERVICES ?? 10_000);
  const count = opts.searches ?? Number(process.env.BENCH_ERS_SEARCHES ?? 300);
  const dataDir = mkdtempSync(join(tmpdir(), 'openspine-bench-ers-'));
  const stops = [];
  try {
    const setup = await setUp(dataDir, total);
    const token = execFileSync(
      process.execPath,
      [...cliArgs, 'token', '--data', dataDir, '--role', 'R8000', '--user', 'bench', '--org', ORG],
      { encoding: 'utf8', cwd: ROOT },
    )
      .trim()
      .split('\n')
      .pop();
    const port = await freePort();
    const server = startProcess(
      [
        ...cliArgs,
        'serve',
        '--data',
        dataDir,
        '--port',
        String(port),
        '--log-level',
        'warn',
        ...UNLIMITED,
      ],
      { cwd: ROOT },
    );
    stops.push(server.stop);
    const base = `http://127.0.0.1:${port}`;
    await waitFor(`${base}/_ping`);
    const headers = {
      authorization: `Bearer ${token}`,
      'nhsd-ers-business-function': 'REFERRING_CLINICIAN',
      'nhsd-end-user-organisation-ods': ORG,
    };
    const read = () =>
      fetch(`${base}${PDS}/Patient/${setup.nhs}`, {
        headers: { ...headers, 'x-request-id': randomUUID() },
      });
    const search = (body) => () =>
      fetch(`${base}${SEARCH}`, {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/fhir+json',
          'x-request-id': randomUUID(),
        },
        body,
      });
    const narrow = searchBody(setup.nhs, 'CARDIOLOGY', 'CARDIOLOGY_1');
    const broad = searchBody(setup.nhs, 'CARDIOLOGY');
    const near = searchBody(setup.nhs, 'CARDIOLOGY', undefined, 25);
    // alternate short rounds so the three see the same machine weather
    const runs = { read: [], narrow: [], broad: [], near: [] };
    const rounds = 3;
    for (let round = 0; round < rounds; round++) {
      runs.read.push(await timed(count / rounds, read));
      runs.narrow.push(await timed(count / rounds, search(narrow)));
      runs.broad.push(await timed(count / rounds, search(broad)));
      runs.near.push(await timed(count / rounds, search(near)));
    }
    const merged = (name) => ({
      times: runs[name].flatMap((r) => r.times).sort((a, b) => a - b),
      statuses: runs[name].reduce((acc, r) => {
        for (const [k, v] of Object.entries(r.statuses)) acc[k] = (acc[k] ?? 0) + v;
        return acc;
      }, {}),
    });
    const result = {
      services: setup.services,
      read: merged('read'),
      narrow: merged('narrow'),
      broad: merged('broad'),
      near: merged('near'),
    };
    const line = (r) =>
      `p50 ${fmt(percentile(r.times, 50), 1)} ms, p95 ${fmt(percentile(r.times, 95), 1)} ms over ${r.times.length} requests, statuses ${JSON.stringify(r.statuses)}`;
    const p95 = (r) => percentile(r.times, 95);
    console.log(
      `\nersearch a010 over ${fmt(result.services)} e-RS services on SQLite (patient in ${setup.postcode?.split(' ')[0] ?? '?'}, URGENT, sort DISTANCE), sequential`,
    );
    console.log(
      `        PDS GET /Patient/{id} on the same server (token + RBAC + patient read + audit): ${line(result.read)}  (baseline)`,
    );
    console.log(
      `        a010 specialty + clinic type (~${fmt(result.services / 100)} candidates): ${line(result.narrow)}; p95 ${fmt(p95(result.narrow) / p95(result.read), 1)}x the baseline`,
    );
    console.log(
      `        a010 specialty only (~${fmt(result.services / 20)} candidates): ${line(result.broad)}; p95 ${fmt(p95(result.broad) / p95(result.read), 1)}x the baseline`,
    );
    console.log(
      `        a010 specialty only, distanceLimit 25 miles (index narrowed to nearby districts): ${line(result.near)}; p95 ${fmt(p95(result.near) / p95(result.read), 1)}x the baseline`,
    );
    return result;
  } finally {
    for (const stop of stops) await stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  serviceSearchBench().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
