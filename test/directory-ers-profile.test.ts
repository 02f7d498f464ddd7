/**
 * The directory's write API takes a HealthcareService's e-Referral profile (specialty,
 * characteristic and the ers-service-profile extension, src/services/directory/ers-profile.ts) on
 * both stores: created and replaced with it, indexed for the e-RS service search (ers-specialty,
 * ers-clinic-type, ers-flow), taken off again; every malformed part refused with a 400 naming it,
 * writing nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importOdsExtract } from '../src/services/directory/ods-import.js';
import {
  ersProfileFields,
  ersProfileOf,
  type ErsProfile,
} from '../src/services/directory/index.js';
import { spineCode, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const DIR = '/spine-directory/FHIR/R4';
const FIXTURES = join(import.meta.dirname, 'fixtures', 'directory');
const TYPE_SYSTEM = 'https://openspine.dev/fhir/CodeSystem/service-type';
const PROFILE_URL = 'https://openspine.dev/fhir/StructureDefinition/ers-service-profile';
const FLOW = 'https://fhir.nhs.uk/CodeSystem/eRS-RequestFlowType';
const BOOKABLE = 'https://fhir.nhs.uk/CodeSystem/eRS-BookableType';
const SPECIALTY = 'https://fhir.nhs.uk/STU3/CodeSystem/SPECIALTY-1';
const CLINIC_TYPE = 'https://fhir.nhs.uk/STU3/CodeSystem/CLINIC-TYPE-1';
const PRIORITY = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-Priority-1';

const HEART_FAILURE: ErsProfile = {
  specialty: 'CARDIOLOGY',
  clinicTypes: ['HEART_FAILURE', 'LIPID_MANAGEMENT'],
  flow: 'BOOKABLE',
  bookable: 'DIRECTLY_BOOKABLE',
  priorities: ['ROUTINE', 'URGENT'],
  adviceAndGuidance: true,
  restrictedTo: ['A81001', 'B82001'],
  waitDays: 21,
};

const serviceBody = (name: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'HealthcareService',
  providedBy: { reference: 'Organization/RR8' },
  name,
  type: [{ coding: [{ system: TYPE_SYSTEM, code: 'outpatients' }] }],
  ...extra,
});
const coding = (system: string, code: string) => ({ coding: [{ system, code }] });
const part = (url: string, value: Record<string, unknown>) => ({ url, ...value });
/** The profile's fields with the extension's parts replaced by `parts`. */
const withParts = (parts: unknown[]) => ({
  ...ersProfileFields(HEART_FAILURE),
  extension: [{ url: PROFILE_URL, extension: parts }],
});
const priority = (code: string) => part('priority', { valueCoding: { system: PRIORITY, code } });

for (const kind of await storesUnderTest()) {
  describe(`directory e-RS profiles (${kind})`, () => {
    let platform: TestPlatform;
    let manager: string;
    const write = (
      method: string,
      url: string,
      body: unknown,
      headers: Record<string, string> = {},
    ) => platform.request({ method, url: DIR + url, body, headers, token: manager });
    const indexed = (param: string, value: string) =>
      platform.repo.search({
        type: 'HealthcareService',
        criteria: [{ any: [{ param, op: 'eq', value }] }],
        limit: 100,
      });

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      await importOdsExtract(platform.repo, readFileSync(join(FIXTURES, 'etr-latin1.csv')));
      manager = await platform.token('R8015', { user: 'sysadmin-1', org: 'X26' });
    });
    after(() => platform.close());

    it('creates a service with its e-RS profile, indexed for the service search', async () => {
      const res = await write(
        'POST',
        '/HealthcareService',
        serviceBody('Heart Failure Clinic', ersProfileFields(HEART_FAILURE)),
      );
      assert.equal(res.statusCode, 201, res.body);
      const doc = res.json();
      assert.deepEqual(ersProfileOf(doc), HEART_FAILURE);
      assert.deepEqual(await indexed('ers-specialty', 'CARDIOLOGY'), [doc.id]);
      assert.deepEqual(await indexed('ers-clinic-type', 'LIPID_MANAGEMENT'), [doc.id]);
      assert.deepEqual(await indexed('ers-flow', 'BOOKABLE'), [doc.id]);

      // what a GET answers can be written back as it is
      const read = await platform.request({
        url: `${DIR}/HealthcareService/${doc.id}`,
        token: manager,
      });
      assert.equal(read.statusCode, 200, read.body);
      const again = await write('PUT', `/HealthcareService/${doc.id}`, read.json(), {
        'if-match': 'W/"1"',
      });
      assert.equal(again.statusCode, 200, again.body);
      assert.deepEqual(ersProfileOf(again.json()), HEART_FAILURE);

      // a triage service, then the profile taken off: no longer an e-RS service
      const triage: ErsProfile = {
        specialty: 'DERMATOLOGY',
        clinicTypes: [],
        flow: 'TRIAGE',
        priorities: ['TWO_WEEK_WAIT', 'ROUTINE'],
        adviceAndGuidance: false,
      };
      const changed = await write(
        'PUT',
        `/HealthcareService/${doc.id}`,
        serviceBody('Dermatology', { id: doc.id, ...ersProfileFields(triage) }),
        { 'if-match': 'W/"2"' },
      );
      assert.equal(changed.statusCode, 200, changed.body);
      assert.deepEqual(ersProfileOf(changed.json()), {
        ...triage,
        bookable: undefined, // as ersProfileOf reads a triage service
        priorities: ['ROUTINE', 'TWO_WEEK_WAIT'],
      });
      assert.deepEqual(await indexed('ers-specialty', 'CARDIOLOGY'), []);
      assert.deepEqual(await indexed('ers-flow', 'TRIAGE'), [doc.id]);
      const plain = await write(
        'PUT',
        `/HealthcareService/${doc.id}`,
        serviceBody('Outpatients', { id: doc.id }),
        {
          'if-match': 'W/"3"',
        },
      );
      assert.equal(plain.statusCode, 200, plain.body);
      assert.equal(ersProfileOf(plain.json()), undefined);
      assert.equal(plain.json().extension, undefined);
      assert.deepEqual(await indexed('ers-flow', 'TRIAGE'), []);
    });

    it('refuses every malformed part of a profile with a 400 naming it, writing nothing', async () => {
      const fields = ersProfileFields(HEART_FAILURE);
      const cases: [string, Record<string, unknown>, string][] = [
        ['empty specialty', { specialty: [] }, 'INVALID_VALUE'],
        ['specialty without the rest', { specialty: fields.specialty }, 'MISSING_VALUE'],
        [
          'characteristic without specialty',
          { characteristic: fields.characteristic, extension: fields.extension },
          'MISSING_VALUE',
        ],
        ['extension without the rest', { extension: fields.extension }, 'MISSING_VALUE'],
        [
          'no profile extension',
          { specialty: fields.specialty, characteristic: fields.characteristic },
          'MISSING_VALUE',
        ],
        [
          'specialty not an array',
          { ...fields, specialty: coding(SPECIALTY, 'CARDIOLOGY') },
          'INVALID_VALUE',
        ],
        [
          'two specialties',
          { ...fields, specialty: [coding(SPECIALTY, 'A'), coding(SPECIALTY, 'B')] },
          'INVALID_VALUE',
        ],
        [
          'specialty system',
          { ...fields, specialty: [coding('urn:x', 'CARDIOLOGY')] },
          'INVALID_CODE',
        ],
        ['specialty code', { ...fields, specialty: [coding(SPECIALTY, 'heart')] }, 'INVALID_CODE'],
        ['unknown flow', { ...fields, characteristic: [coding(FLOW, 'WALK_IN')] }, 'INVALID_CODE'],
        [
          'characteristic system',
          { ...fields, characteristic: [coding('urn:x', 'BOOKABLE')] },
          'INVALID_CODE',
        ],
        [
          'characteristic shape',
          { ...fields, characteristic: [{ text: 'bookable' }] },
          'INVALID_VALUE',
        ],
        [
          'bookable without a bookable type',
          { ...fields, characteristic: [coding(FLOW, 'BOOKABLE')] },
          'MISSING_VALUE',
        ],
        [
          'no flow',
          { ...fields, characteristic: [coding(BOOKABLE, 'DIRECTLY_BOOKABLE')] },
          'MISSING_VALUE',
        ],
        [
          'triage with a bookable type',
          {
            ...fields,
            characteristic: [coding(FLOW, 'TRIAGE'), coding(BOOKABLE, 'DIRECTLY_BOOKABLE')],
          },
          'INVALID_VALUE',
        ],
        [
          'two flows',
          { ...fields, characteristic: [coding(FLOW, 'TRIAGE'), coding(FLOW, 'BOOKABLE')] },
          'INVALID_CODE',
        ],
        [
          'another extension',
          { ...fields, extension: [{ url: 'https://example.org/x', valueString: 'y' }] },
          'INVALID_VALUE',
        ],
        [
          'profile twice',
          { ...fields, extension: [...(fields.extension ?? []), ...(fields.extension ?? [])] },
          'INVALID_VALUE',
        ],
        [
          'profile without parts',
          { ...fields, extension: [{ url: PROFILE_URL }] },
          'MISSING_VALUE',
        ],
        [
          'unknown part',
          withParts([priority('ROUTINE'), part('colour', { valueString: 'red' })]),
          'INVALID_VALUE',
        ],
        [
          'no priority',
          withParts([part('adviceAndGuidance', { valueBoolean: true })]),
          'MISSING_VALUE',
        ],
        ['priority code', withParts([priority('SOON')]), 'INVALID_CODE'],
        [
          'priority system',
          withParts([part('priority', { valueCoding: { system: 'urn:x', code: 'ROUTINE' } })]),
          'INVALID_CODE',
        ],
        [
          'clinic type code',
          withParts([
            priority('ROUTINE'),
            part('clinicType', { valueCoding: { system: CLINIC_TYPE, code: 'heart failure' } }),
          ]),
          'INVALID_CODE',
        ],
        [
          'clinic type system',
          withParts([
            priority('ROUTINE'),
            part('clinicType', { valueCoding: { system: 'urn:x', code: 'HF' } }),
          ]),
          'INVALID_CODE',
        ],
        [
          'advice flag',
          withParts([priority('ROUTINE'), part('adviceAndGuidance', { valueBoolean: 'yes' })]),
          'INVALID_VALUE',
        ],
        [
          'restrictedTo',
          withParts([
            priority('ROUTINE'),
            part('restrictedTo', { valueString: 'not an ods code' }),
          ]),
          'INVALID_VALUE',
        ],
        [
          'negative wait',
          withParts([priority('ROUTINE'), part('waitDays', { valueInteger: -1 })]),
          'INVALID_VALUE',
        ],
        [
          'fractional wait',
          withParts([priority('ROUTINE'), part('waitDays', { valueInteger: 1.5 })]),
          'INVALID_VALUE',
        ],
        [
          'two waits',
          withParts([
            priority('ROUTINE'),
            part('waitDays', { valueInteger: 1 }),
            part('waitDays', { valueInteger: 2 }),
          ]),
          'INVALID_VALUE',
        ],
      ];
      const before = await platform.repo.count('HealthcareService');
      for (const [why, extra, code] of cases) {
        const res = await write('POST', '/HealthcareService', serviceBody(why, extra));
        assert.deepEqual(
          [res.statusCode, spineCode(res)],
          [400, code],
          `${why}: ${res.body.slice(0, 300)}`,
        );
      }
      assert.equal(await platform.repo.count('HealthcareService'), before, 'nothing was written');
    });
  });
}
