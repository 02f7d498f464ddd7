/**
 * Support for the read and search conformance tests (get-patient, search, search-errors,
 * related-person, request-errors, invalid-headers, confidential-removal-reasons,
 * record-sharing-consent, empty-address-lines): the published bodies they compare with, copied
 * from NHSDigital/personal-demographics-service-api karate-tests mocks/stubs (test/fixtures/pds/SOURCES.md),
 * and a builder for the Karate suite's test patients, which each test loads through the repository.
 */
import assert from 'node:assert/strict';
import type { Address, ContactPoint, Extension, HumanName, Patient } from 'fhir/r4.js';
import type { LightMyRequestResponse } from 'fastify';
import { fixture } from '../../helpers/pds-fixtures.js';

/**
 * errorResponses/<code>.json with Karate's #(diagnostics) and #(display) filled in; no diagnostics
 * given means none expected.
 */
export function publishedBody(
  relative: string,
  vars: { diagnostics?: string; display?: string } = {},
): any {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if (x === '#(diagnostics)') {
          if (vars.diagnostics !== undefined) out[k] = vars.diagnostics;
          continue;
        }
        if (x === '#(display)') {
          if (vars.display !== undefined) out[k] = vars.display;
          continue;
        }
        out[k] = walk(x);
      }
      return out;
    }
    return v;
  };
  return walk(fixture(relative));
}

/** Karate's `status <n>` then `match response == read('...errorResponses/<code>.json')`. */
export function assertPublished(
  res: LightMyRequestResponse,
  status: number,
  code: string,
  vars: { diagnostics?: string; display?: string } = {},
): void {
  assert.equal(res.statusCode, status, res.body.slice(0, 600));
  assert.match(String(res.headers['content-type']), /^application\/fhir\+json/);
  assert.deepEqual(res.json(), publishedBody(`errorResponses/${code}.json`, vars));
}

const LABELS = { U: 'unrestricted', R: 'restricted', V: 'very restricted' } as const;

export interface KaratePatient {
  id: string;
  family: string;
  given?: string[];
  gender?: Patient['gender'];
  birthDate: string;
  /** names the patient had before (ended); they answer history and fuzzy searches only */
  previousFamilies?: string[];
  postcode?: string;
  address?: Address[];
  telecom?: ContactPoint[];
  gp?: string;
  deceased?: string;
  label?: keyof typeof LABELS;
  extension?: Extension[];
  replacedBy?: string;
}

/** A test patient of the Karate suite, in the shape PDS stores it. */
export function karatePatient(k: KaratePatient): Patient {
  const name: HumanName[] = [
    {
      id: 'N1',
      use: 'usual',
      period: { start: k.birthDate },
      given: k.given ?? ['Test'],
      family: k.family,
    },
  ];
  (k.previousFamilies ?? []).forEach((family, i) =>
    name.push({
      id: `P${i + 1}`,
      use: 'old',
      period: { start: k.birthDate, end: '2020-01-01' },
      given: k.given ?? ['Test'],
      family,
    }),
  );
  const p: Patient = {
    resourceType: 'Patient',
    id: k.id,
    identifier: [{ system: 'https://fhir.nhs.uk/Id/nhs-number', value: k.id }],
    meta: {
      security: [
        {
          system: 'https://www.hl7.org/fhir/valueset-security-labels.html',
          code: k.label ?? 'U',
          display: LABELS[k.label ?? 'U'],
        },
      ],
    },
    name,
    gender: k.gender ?? 'female',
    birthDate: k.birthDate,
    address: k.address ?? [
      {
        id: 'A1',
        use: 'home',
        period: { start: '2015-01-01' },
        line: ['1 Test Street', 'Testville'],
        postalCode: k.postcode ?? 'LS1 6AE',
      },
    ],
  };
  if (k.telecom) p.telecom = k.telecom;
  if (k.gp)
    p.generalPractitioner = [
      {
        id: 'G1',
        type: 'Organization',
        identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: k.gp },
      },
    ];
  if (k.deceased) p.deceasedDateTime = k.deceased;
  if (k.extension) p.extension = k.extension;
  if (k.replacedBy)
    p.link = [
      {
        type: 'replaced-by',
        other: {
          reference: `Patient/${k.replacedBy}`,
          identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: k.replacedBy },
        } as any,
      },
    ];
  return p;
}

export const email = (value: string, ended?: string): ContactPoint => ({
  system: 'email',
  use: 'home',
  value,
  period: ended ? { start: '2010-01-01', end: ended } : { start: '2010-01-01' },
});
export const phone = (value: string): ContactPoint => ({
  system: 'phone',
  use: 'home',
  value,
  period: { start: '2010-01-01' },
});

/** Karate's utils.validateResponseHeaders: the X-Request-ID (and X-Correlation-ID when sent) come back. */
export function assertIdsEchoed(
  res: LightMyRequestResponse,
  headers: Record<string, string>,
): void {
  if (headers['x-request-id']) assert.equal(res.headers['x-request-id'], headers['x-request-id']);
  if (headers['x-correlation-id'])
    assert.equal(res.headers['x-correlation-id'], headers['x-correlation-id']);
}
