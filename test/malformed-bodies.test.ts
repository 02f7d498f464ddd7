/**
 * Type confusion in every request body the platform accepts: starting from a valid body, each
 * field in turn is replaced by null, a number, a string, an array, an object and a boolean. Every
 * answer must be a 2xx or a 4xx OperationOutcome; a 5xx means a validator trusted a shape it had
 * not checked. (The store does not change what is found here, so one store is enough.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { mintPatientToken } from '../src/security/embedded-idp.js';
import { SCR_CONSENT_STATE_TYPE } from '../src/services/scr/consent-store.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import {
  commitPatients,
  currentJane,
  fixture,
  mergeBody,
  NHS,
  patchFixture,
  PDS,
  repoRoot,
  withNhsNumber,
} from './helpers/pds-fixtures.js';

const SCR = '/summary-care-record/FHIR/R4';
const SECURITY = '/security/FHIR/R4';
const REPLACEMENTS: unknown[] = [null, 7, 'x', [], {}, true];

/** Every path to a value inside a JSON document. */
function paths(value: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const key = Array.isArray(value) ? Number(k) : k;
    return [[...at, key], ...paths(v, [...at, key])];
  });
}

function mutated<T>(doc: T, path: (string | number)[], replacement: unknown): T {
  const copy = structuredClone(doc) as any;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path[path.length - 1]] = replacement;
  return copy;
}

describe('malformed request bodies never cause a 5xx', () => {
  let platform: TestPlatform;
  let clinician: string, gp: string, merger: string;

  before(async () => {
    platform = await startTestPlatform('sqlite', {
      config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
    });
    await commitPatients(platform.repo, [
      currentJane(),
      withNhsNumber(currentJane(), '9000000041'),
      withNhsNumber(currentJane(), '9000000068'),
    ]);
    clinician = await platform.token('R8000', { user: 'fuzz-clinician', org: 'Y12345' });
    gp = clinician; // Jane's registered practice is Y12345
    merger = await platform.token('R8013', { user: 'fuzz-merger' });
    // express consent, so that well-formed variants of the full summary are accepted and read back
    await platform.repo.commit({
      resources: [
        {
          type: SCR_CONSENT_STATE_TYPE,
          id: NHS.jane,
          expectedVersion: 0,
          resource: {
            resourceType: SCR_CONSENT_STATE_TYPE,
            id: NHS.jane,
            scr: 'additional',
            nationalOptOut: false,
          },
          index: [],
        },
      ],
    });
  });
  after(() => platform.close());

  const scrConsent = {
    resourceType: 'Consent',
    status: 'active',
    scope: {
      coding: [
        { system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' },
      ],
    },
    patient: { identifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: NHS.jane } },
    policyRule: {
      coding: [
        { system: 'https://openspine.dev/CodeSystem/scr-consent-choice', code: 'scr-additional' },
      ],
    },
  };
  const parameters = (entries: Record<string, string>) => ({
    resourceType: 'Parameters',
    parameter: Object.entries(entries).map(([name, value]) =>
      name === 'patient'
        ? { name, valueIdentifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value } }
        : { name, valueString: value },
    ),
  });

  const cases: {
    name: string;
    method: string;
    url: string;
    body: () => unknown;
    token: () => string;
    contentType?: string;
    headers?: Record<string, string>;
  }[] = [
    {
      name: 'PDS register',
      method: 'POST',
      url: `${PDS}/Patient`,
      body: () => fixture('requests/PatientCreate/create-patient.json'),
      token: () => clinician,
    },
    {
      name: 'PDS patch',
      method: 'PATCH',
      url: `${PDS}/Patient/${NHS.jane}`,
      body: () => patchFixture('add-name'),
      token: () => clinician,
      contentType: 'application/json-patch+json',
      headers: { 'if-match': 'W/"1"' },
    },
    {
      name: 'PDS merge',
      method: 'POST',
      url: `${PDS}/Patient/$merge`,
      body: () => mergeBody('9000000068', '9000000041'),
      token: () => merger,
    },
    {
      name: 'SCR upload',
      method: 'POST',
      url: `${SCR}/Bundle`,
      body: () =>
        JSON.parse(
          readFileSync(resolve(repoRoot, 'test/fixtures/scr/gp-summary.Bundle.json'), 'utf8'),
        ),
      token: () => gp,
    },
    {
      name: 'SCR consent',
      method: 'POST',
      url: `${SCR}/Consent`,
      body: () => scrConsent,
      token: () => clinician,
    },
    {
      name: 'SCR permission',
      method: 'POST',
      url: `${SCR}/$setPermission`,
      body: () =>
        JSON.parse(
          readFileSync(
            resolve(repoRoot, 'test/fixtures/scr/set-permission.Parameters.json'),
            'utf8',
          ).replace('9995000180', NHS.jane),
        ),
      token: () => clinician,
    },
    {
      name: 'SCR opt-out',
      method: 'POST',
      url: `${SCR}/$set-opt-out`,
      body: () => ({
        resourceType: 'Parameters',
        parameter: [
          {
            name: 'patient',
            valueIdentifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value: NHS.jane },
          },
          { name: 'optOut', valueBoolean: true },
        ],
      }),
      token: () => clinician,
    },
    {
      name: 'emergency access',
      method: 'POST',
      url: `${SECURITY}/$emergency-access`,
      body: () =>
        parameters({ patient: NHS.jane, reasonCode: 'life-threatening', reasonText: 'Collapsed' }),
      token: () => clinician,
    },
    {
      name: 'self-claimed relationship',
      method: 'POST',
      url: `${SECURITY}/$claim-relationship`,
      body: () => parameters({ patient: NHS.jane, reason: 'Seeing the patient now' }),
      token: () => clinician,
    },
    {
      name: 'care episode',
      method: 'POST',
      url: `${SECURITY}/EpisodeOfCare`,
      body: () => ({
        resourceType: 'EpisodeOfCare',
        status: 'active',
        patient: { identifier: { value: NHS.jane } },
      }),
      token: () => clinician,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: every field replaced by every JSON type`, async () => {
      const valid = c.body();
      const failures: string[] = [];
      const statuses = new Map<number, number>();
      for (const path of paths(valid)) {
        for (const replacement of REPLACEMENTS) {
          const res = await platform.request({
            method: c.method,
            url: c.url,
            token: c.token(),
            body: mutated(valid, path, replacement),
            contentType: c.contentType,
            headers: c.headers,
          });
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          if (res.statusCode >= 500)
            failures.push(`${path.join('.')} = ${JSON.stringify(replacement)}`);
          else if (res.statusCode >= 400)
            assert.equal(
              res.json().resourceType,
              'OperationOutcome',
              `${path.join('.')}: an OperationOutcome`,
            );
        }
      }
      for (const whole of [null, 7, 'x', [], {}, true]) {
        const res = await platform.request({
          method: c.method,
          url: c.url,
          token: c.token(),
          body: JSON.stringify(whole),
          contentType: c.contentType,
          headers: c.headers,
        });
        if (res.statusCode >= 500) failures.push(`whole body = ${JSON.stringify(whole)}`);
      }
      if (c.name === 'SCR upload') {
        // whatever was accepted must also read back without a 5xx, in every view
        const patient = await mintPatientToken(platform.key, {
          nhsNumber: NHS.jane,
          audience: platform.config.audience,
        });
        const list = await platform.request({
          url: `${SCR}/DocumentReference?patient=${NHS.jane}`,
          token: clinician,
        });
        if (list.statusCode !== 200)
          failures.push(`DocumentReference list after the accepted uploads: ${list.statusCode}`);
        for (const e of (list.statusCode === 200 ? (list.json().entry ?? []) : []).slice(0, 300)) {
          const read = await platform.request({
            url: `${SCR}/Bundle/${e.resource.id}?patient=${NHS.jane}`,
            token: patient,
          });
          if (read.statusCode >= 500) failures.push(`reading back ${e.resource.id}`);
        }
        if (
          (await platform.request({ url: `${SCR}/$summary?patient=${NHS.jane}`, token: patient }))
            .statusCode >= 500
        )
          failures.push('$summary after the accepted uploads');
      }
      assert.deepEqual(
        failures,
        [],
        `${failures.length} malformed bodies got a 5xx (statuses seen: ${JSON.stringify([...statuses])})`,
      );
      assert.ok(
        (statuses.get(400) ?? 0) + (statuses.get(422) ?? 0) > 0,
        `some mutations are refused as invalid: ${JSON.stringify([...statuses])}`,
      );
      if (c.name === 'SCR upload')
        assert.ok(
          (statuses.get(201) ?? 0) > 0,
          'some harmless mutations are accepted and read back',
        );
    });
  }
});
