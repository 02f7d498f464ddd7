/**
 * Shared pieces of the PDS conformance tests: the published error bodies (test/fixtures/pds/errorResponses,
 * copied from NHSDigital/personal-demographics-service-api karate-tests mocks/stubs/errorResponses), a
 * small test record builder, and a PATCH helper.
 */
import assert from 'node:assert/strict';
import type { Patient } from 'fhir/r4.js';
import type { LightMyRequestResponse } from 'fastify';
import { fixture, PDS } from '../../helpers/pds-fixtures.js';
import type { TestPlatform } from '../../helpers/platform.js';

/** A published error body with its placeholders filled, as the Karate features build it. */
export function publishedError(code: string, diagnostics: string, display?: string): unknown {
  const text = JSON.stringify(fixture(`errorResponses/${code}.json`))
    .replace('"#(diagnostics)"', JSON.stringify(diagnostics))
    .replace('"#(display)"', JSON.stringify(display ?? ''));
  return JSON.parse(text);
}

/** The response is the published error body, exactly (as Karate's `match response == expectedBody`). */
export function assertPublishedError(
  res: LightMyRequestResponse,
  status: number,
  code: string,
  diagnostics: string,
): void {
  assert.equal(res.statusCode, status, res.body.slice(0, 600));
  assert.deepEqual(res.json(), publishedError(code, diagnostics));
}

/** A plain current record for a test: usual name, home address, home phone, mobile and email. */
export function person(nhs: string, family: string, extra: Partial<Patient> = {}): Patient {
  return {
    resourceType: 'Patient',
    id: nhs,
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: nhs }],
    meta: {
      security: [
        {
          system: 'https://www.hl7.org/fhir/valueset-security-labels.html',
          code: 'U',
          display: 'unrestricted',
        },
      ],
    },
    name: [{ id: 'N1', use: 'usual', period: { start: '2000-01-01' }, given: ['Sam'], family }],
    gender: 'female',
    birthDate: '1990-01-01',
    address: [
      {
        id: 'A1',
        use: 'home',
        period: { start: '2010-01-01' },
        line: ['1 High Street', '', '', 'Leeds', ''],
        postalCode: 'LS1 6AE',
      },
    ],
    telecom: [
      {
        id: 'T1',
        system: 'phone',
        use: 'home',
        value: '01132960000',
        period: { start: '2020-01-01' },
      },
      {
        id: 'T2',
        system: 'phone',
        use: 'mobile',
        value: '07700900000',
        period: { start: '2020-01-01' },
      },
      {
        id: 'T3',
        system: 'email',
        use: 'home',
        value: 'sam@example.com',
        period: { start: '2020-01-01' },
      },
    ],
    ...extra,
  };
}

export async function readRecord(
  platform: TestPlatform,
  nhs: string,
  token?: string,
): Promise<{ patient: any; etag: string; version: number }> {
  const res = await platform.request({ url: `${PDS}/Patient/${nhs}`, token });
  assert.equal(res.statusCode, 200, res.body.slice(0, 400));
  const etag = String(res.headers.etag);
  return { patient: res.json(), etag, version: Number(/\d+/.exec(etag)![0]) };
}

export function patchRecord(
  platform: TestPlatform,
  nhs: string,
  body: unknown,
  etag: string,
  token?: string,
): Promise<LightMyRequestResponse> {
  return platform.request({
    method: 'PATCH',
    url: `${PDS}/Patient/${nhs}`,
    token,
    headers: { 'if-match': etag },
    contentType: 'application/json-patch+json',
    body,
  });
}

/** Today, and a day some months ahead, as yyyy-mm-dd. */
export const todayDate = () => new Date().toISOString().slice(0, 10);
export const daysAhead = (n: number) =>
  new Date(Date.now() + n * 86_400_000).toISOString().slice(0, 10);
/** A date in the previous month (Karate utils.randomDateFromPreviousMonth). */
export const lastMonth = () => new Date(Date.now() - 20 * 86_400_000).toISOString().slice(0, 10);

/**
 * A Karate request template (test/fixtures/pds/karate) with its "#(name)" placeholders filled;
 * undefined drops the member.
 */
export function karateTemplate(name: string, vars: Record<string, unknown>): any {
  const fill = (v: unknown): unknown => {
    if (typeof v === 'string') {
      const m = /^#\((\w+)\)$/.exec(v);
      return m ? vars[m[1]] : v;
    }
    if (Array.isArray(v)) return v.map(fill);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v)
          .map(([k, x]) => [k, fill(x)])
          .filter(([, x]) => x !== undefined),
      );
    }
    return v;
  };
  return fill(fixture(`karate/${name}.json`));
}

let serial = 0;
/** Karate utils.randomAddress: a home address with blank lines 1, 3 and 5. */
export const randomAddress = (start: string) => ({
  period: { start },
  use: 'home',
  postalCode: 'LN3 1UT',
  line: ['', `${10 + (serial % 80)} Ockham Road`, '', 'East Torrington', ''],
});
/** Karate utils.randomTempAddress. */
export const randomTempAddress = () => ({
  period: { start: todayDate(), end: daysAhead(61) },
  use: 'temp',
  text: 'Temporary Residence Address',
  postalCode: 'NR32 8ND',
  line: ['', '7 Hounslow Rd', '', 'Somerleyton', ''],
});

/**
 * Variables for the create templates: unique demographics ("ToRemove", random given names and birth
 * date), as the features make them.
 */
export function createVars(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  serial++;
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const given = () =>
    'Test' + Array.from({ length: 6 }, () => letters[Math.floor(Math.random() * 26)]).join('');
  const birthDate = new Date(
    Date.UTC(
      1950 + Math.floor(Math.random() * 60),
      Math.floor(Math.random() * 12),
      1 + Math.floor(Math.random() * 28),
    ),
  )
    .toISOString()
    .slice(0, 10);
  return {
    givenName: [given(), given()],
    familyName: 'ToRemove',
    prefix: ['Mr'],
    gender: ['male', 'female', 'unknown'][serial % 3],
    birthDate,
    address: randomAddress(birthDate),
    ...overrides,
  };
}

/** POST /Patient with a Karate template ('post-patient-request' or 'patient-create-maximal'). */
export function createPatient(
  platform: TestPlatform,
  template: string,
  vars: Record<string, unknown>,
): Promise<LightMyRequestResponse> {
  const body = karateTemplate(template, vars);
  return platform.request({ method: 'POST', url: `${PDS}/Patient`, body });
}

/**
 * The patients the application-restricted search scenarios rely on
 * (common/appRestrictedAndPriviledgedAccess/getPatient.feature
 * and common/getPatient.feature@tooManyMatches): one Smith born 2018-06-08, Jane Smith with her
 * phone and email, and two
 * women whose family names start "Ma" (so "Ma*" from 1957-07-23 on finds two).
 */
export function appRestrictedSearchPatients(): Patient[] {
  return [
    person('9000000041', 'Smith', { birthDate: '2018-06-08' }),
    person('9000000068', 'Smith', {
      birthDate: '2010-10-22',
      telecom: [
        { id: 'T1', system: 'phone', use: 'home', value: '01632960587' },
        { id: 'T2', system: 'email', use: 'home', value: 'jane.smith@example.com' },
      ],
    }),
    person('9000000076', 'Magin', { birthDate: '1957-07-23' }),
    person('9000000084', 'Mayer', { birthDate: '1961-03-14' }),
  ];
}
