/**
 * PDS test data: the published fixture payloads (read at runtime from test/fixtures/pds in the
 * repository), variants of them under other NHS Numbers, and assertions shared by the PDS tests.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Patient, RelatedPerson } from 'fhir/r4.js';
import type { LightMyRequestResponse } from 'fastify';
import { SPINE_ERROR_SYSTEM } from '../../src/fhir/errors.js';
import { indexPatient } from '../../src/services/pds/patient-index.js';
import { createPatientGenerator, type GeneratedPatient } from '../../src/seed/patient-generator.js';
import type { Repository } from '../../src/store/repository.js';
import { PDS, type TestPlatform } from './platform.js';

export { PDS };

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = resolve(repoRoot, 'test/fixtures/pds');

/** NHS Numbers of the sandbox scenarios. */
export const NHS = {
  jane: '9000000009',
  jayne: '9000000010',
  restricted: '9000000025',
  minimal: '9000000033',
  notFound: '9111231130',
  invalid: '9000000000',
} as const;

/** Further valid NHS Numbers (check digit holds) outside the seeded 999 range, for fixture variants. */
export const SPARE_NHS = [
  '9000000041',
  '9000000068',
  '9000000076',
  '9000000084',
  '9000000092',
  '9000000106',
  '9000000114',
  '9000000122',
  '9000000130',
  '9000000149',
  '9000000157',
  '9000000165',
  '9000000173',
  '9000000181',
  '9000000203',
  '9000000211',
  '9000000238',
  '9000000246',
  '9000000254',
  '9000000262',
  '9000000270',
  '9000000289',
  '9000000297',
  '9000000300',
] as const;

export const SEED = { patients: 300, seed: 7 } as const;

export const PHARMACY_URLS = [
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NominatedPharmacy',
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-DispensingDoctor',
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-MedicalApplianceSupplier',
];
export const BIRTH_PLACE_URL = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';
export const DEATH_NOTIFICATION_URL =
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-DeathNotificationStatus';

/**
 * A fresh parsed copy of a fixture file, e.g. fixture('Patient.json') or
 * fixture('requests/PatientPatch/update-name.json').
 */
export function fixture<T = any>(relative: string): T {
  return JSON.parse(readFileSync(resolve(FIXTURES, relative), 'utf8')) as T;
}

export function patchFixture(name: string): { patches: any[] } {
  return fixture(`requests/PatientPatch/${name}.json`);
}

const clone = <T>(v: T): T => structuredClone(v);

/** The record under another NHS Number (id and identifier value). */
export function withNhsNumber(patient: Patient, nhs: string): Patient {
  const p = clone(patient);
  p.id = nhs;
  p.identifier = (p.identifier ?? []).map((i) => ({ ...i, value: nhs }));
  return p;
}

/** A copy whose names, addresses, telecoms and GP have no end date, so everything in it is current. */
export function current(patient: Patient): Patient {
  const p = clone(patient);
  const open = (x: { period?: { start?: string; end?: string } }) => {
    if (x.period) delete x.period.end;
  };
  p.name?.forEach(open);
  p.address?.forEach(open);
  p.telecom?.forEach(open);
  p.generalPractitioner?.forEach((g) => {
    if (g.identifier?.period) delete g.identifier.period.end;
  });
  return p;
}

/** A copy with no death: no deceasedDateTime and no death notification extension. */
export function living(patient: Patient): Patient {
  const p = clone(patient);
  delete p.deceasedDateTime;
  p.extension = p.extension?.filter((e) => !e.url.includes('DeathNotificationStatus'));
  return p;
}

/** Jane Smith (9000000009) with every element current and an email address besides the phone. */
export function currentJane(): Patient {
  const p = current(fixture<Patient>('Patient.json'));
  p.telecom!.push({
    id: '790',
    system: 'email',
    value: 'jane.smith@example.com',
    use: 'home',
    period: { start: '2020-01-01' },
  });
  return p;
}

/**
 * The restricted Janet Smythe (9000000025) holding everything a restricted view must withhold: a
 * home address (LS1 6AE, as Jane's), phone, contact, GP Y12345 and a nominated pharmacy.
 */
export function restrictedJanet(): Patient {
  const p = current(fixture<Patient>('Sensitive_Patient.json'));
  p.address = [
    {
      id: '901',
      use: 'home',
      period: { start: '2020-01-01' },
      line: ['9 Secret Row', 'Leeds'],
      postalCode: 'LS1 6AE',
    },
  ];
  p.telecom = [
    {
      id: '902',
      system: 'phone',
      value: '01632960999',
      use: 'home',
      period: { start: '2020-01-01' },
    },
  ];
  p.contact = [
    {
      id: '903',
      relationship: [{ text: 'friend' }],
      telecom: [{ system: 'phone', value: '01632960998' }],
    } as any,
  ];
  p.generalPractitioner = [
    {
      id: '904',
      type: 'Organization',
      identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'Y12345' },
    },
  ];
  p.extension = [
    ...(p.extension ?? []),
    {
      url: PHARMACY_URLS[0],
      valueReference: {
        identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'FA123' },
      },
    },
  ];
  return p;
}

/** Commits patients (version 1 each) straight into the store, indexed as the service indexes them. */
export async function commitPatients(repo: Repository, patients: Patient[]): Promise<void> {
  await repo.commit({
    resources: patients.map((p) => ({
      type: 'Patient',
      id: p.id!,
      expectedVersion: 0,
      resource: p as Record<string, any>,
      index: indexPatient(p),
    })),
  });
}

export async function commitRelatedPerson(
  repo: Repository,
  person: RelatedPerson,
  patientId: string,
): Promise<void> {
  await repo.commit({
    resources: [
      {
        type: 'RelatedPerson',
        id: person.id!,
        expectedVersion: 0,
        resource: person as Record<string, any>,
        index: [{ param: 'patient', value: patientId }],
      },
    ],
  });
}

/** The synthetic patients seedPatients(repo, SEED) writes, recomputed from the generator. */
export function seededPatients(
  count: number = SEED.patients,
  seed: number = SEED.seed,
): GeneratedPatient[] {
  const g = createPatientGenerator(seed);
  return Array.from({ length: count }, (_, i) => g.generate(i));
}

export const isRestrictedRecord = (p: Patient) =>
  ['R', 'V'].includes(p.meta?.security?.[0]?.code ?? 'U');

/** Text that would betray a stack trace or internal error in a response body. */
export function assertNoInternals(res: LightMyRequestResponse): void {
  const body = res.body;
  assert.ok(!/at .*\.ts:/.test(body), `stack trace in body: ${body.slice(0, 300)}`);
  assert.ok(!body.includes('Error:'), `error text in body: ${body.slice(0, 300)}`);
  assert.ok(!body.includes('node_modules'), `internal path in body: ${body.slice(0, 300)}`);
}

/** Asserts an OperationOutcome answer: HTTP status, FHIR JSON, Spine code system and code, no internals. */
export function assertOutcome(res: LightMyRequestResponse, status: number, code: string): any {
  assert.equal(
    res.statusCode,
    status,
    `expected ${status} ${code}, got ${res.statusCode}: ${res.body.slice(0, 400)}`,
  );
  assert.match(String(res.headers['content-type']), /^application\/fhir\+json/);
  const body = res.json();
  assert.equal(body.resourceType, 'OperationOutcome');
  const coding = body.issue?.[0]?.details?.coding?.[0];
  assert.equal(coding?.system, SPINE_ERROR_SYSTEM);
  assert.equal(coding?.code, code, `expected Spine code ${code}: ${res.body.slice(0, 400)}`);
  assertNoInternals(res);
  return body;
}

/** Asserts a 200 searchset Bundle and returns it. */
export function assertSearchset(res: LightMyRequestResponse): any {
  assert.equal(res.statusCode, 200, res.body.slice(0, 400));
  const body = res.json();
  assert.equal(body.resourceType, 'Bundle', res.body.slice(0, 400));
  assert.equal(body.type, 'searchset');
  // a PDS searchset with no match has no entry element at all (karate-tests
  // getPatientRelatedPerson.feature "Patient doesn't have a related person": exactly resourceType,
  // type, timestamp, total)
  if (body.total === 0) assert.equal(body.entry, undefined, 'an empty PDS searchset has no entry');
  else assert.equal(body.total, body.entry.length);
  // for the callers' convenience the returned body lists no entries as []
  body.entry ??= [];
  return body;
}

export const entryIds = (bundle: any): string[] =>
  (bundle.entry ?? []).map((e: any) => e.resource.id);

/**
 * A fixture as PDS shows it today: the fixtures are older published examples, with the NHS Number
 * verification extension and code system, and the security label system, at URLs PDS has since
 * replaced (NHSDigital/personal-demographics-service-api sandbox/mocks/Patient.json at HEAD).
 */
export function asPublished<P extends object>(patient: P): P {
  return JSON.parse(
    JSON.stringify(patient)
      .replaceAll(
        'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus',
        'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus',
      )
      .replaceAll(
        'https://fhir.nhs.uk/R4/CodeSystem/UKCore-NHSNumberVerificationStatus',
        'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus',
      )
      .replaceAll(
        'https://www.hl7.org/fhir/valueset-security-labels.html',
        'http://terminology.hl7.org/CodeSystem/v3-Confidentiality',
      ),
  );
}

/** GET /Patient/{id}: the body and the version from the ETag. */
export async function readPatient(
  platform: TestPlatform,
  nhs: string,
): Promise<{ res: LightMyRequestResponse; patient: any; version: number }> {
  const res = await platform.request({ url: `${PDS}/Patient/${nhs}` });
  assert.equal(res.statusCode, 200, res.body.slice(0, 400));
  const m = /^W\/"(\d+)"$/.exec(String(res.headers.etag));
  assert.ok(m, `ETag ${res.headers.etag}`);
  return { res, patient: res.json(), version: Number(m[1]) };
}

/** A query string from pairs; repeated keys allowed. */
export function qs(pairs: [string, string][]): string {
  return pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
}

export function search(
  platform: TestPlatform,
  pairs: [string, string][],
  token?: string,
): Promise<LightMyRequestResponse> {
  return platform.request({ url: `${PDS}/Patient?${qs(pairs)}`, token });
}

export function mergeBody(source: string, target: string) {
  const id = (value: string) => ({ system: 'https://fhir.nhs.uk/Id/nhs-number', value });
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'source-patient-identifier', valueIdentifier: id(source) },
      { name: 'target-patient-identifier', valueIdentifier: id(target) },
    ],
  };
}
