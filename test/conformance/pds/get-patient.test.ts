/**
 * Conformance: NHS England's
 * karate-tests/src/test/java/patients/healthcareWorker/getPatientDetails/getPatientByNHSNumber.feature
 * and the scenarios of patients/common/getPatientByNHSNumber.feature it and others call
 * (NHSDigital/personal-demographics-service-api). The sandbox records (9000000009, 9000000025) are the
 * published examples in test/fixtures/pds; the INT numbers are loaded by this test through the repository.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Patient } from 'fhir/r4.js';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import { commitPatients, fixture, NHS, PDS } from '../../helpers/pds-fixtures.js';
import { assertIdsEchoed, assertPublished, karatePatient } from './read-search-support.js';

const FEATURE = 'getPatientByNHSNumber.feature';
const COMMON = 'common/getPatientByNHSNumber.feature';
const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';

/** utils.checkNullsHaveExtensions(addresses) == false: no null (or blank) address line. */
function noBlankLines(addresses: any[] | undefined): boolean {
  return (addresses ?? []).every(
    (a) =>
      (a.line ?? []).every((l: unknown) => typeof l === 'string' && l.trim() !== '') &&
      a._line === undefined,
  );
}

for (const kind of await storesUnderTest()) {
  describe(`PDS conformance: ${FEATURE} (${kind})`, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await startTestPlatform(kind);
      const jane = fixture<Patient>('Patient.json');
      // a blank line in the stored address, which an ordinary application never sees
      jane.address![0].line = [...jane.address![0].line!, ''];
      await commitPatients(platform.repo, [
        jane,
        fixture<Patient>('Sensitive_Patient.json'),
        karatePatient({
          id: '9990003343',
          family: 'Invalidated',
          birthDate: '1990-01-01',
          label: 'REDACTED' as any,
        }),
      ]);
    });
    after(async () => platform?.close());

    async function read(nhs: string, token?: string) {
      const headers = {
        'x-request-id': crypto.randomUUID(),
        'x-correlation-id': crypto.randomUUID(),
      };
      const res = await platform.request({ url: `${PDS}/Patient/${nhs}`, headers, token });
      assertIdsEchoed(res, headers);
      return res;
    }

    it(`${FEATURE}: Get an "unrestricted" patient`, async () => {
      const res = await read(NHS.jane);
      assert.equal(res.statusCode, 200, res.body.slice(0, 300));
      const p = res.json();
      assert.equal(p.id, NHS.jane);
      assert.deepEqual(p.meta.security[0], {
        code: 'U',
        display: 'unrestricted',
        system: CONFIDENTIALITY,
      });
      assert.equal(p.meta.lastUpdated, undefined, 'PDS meta has versionId and security only');
      assert.ok(p.meta.versionId);
      const verification = p.identifier[0].extension[0];
      assert.equal(
        verification.url,
        'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus',
      );
      assert.equal(
        verification.valueCodeableConcept.coding[0].system,
        'https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatus',
      );
      assert.ok(noBlankLines(p.address), JSON.stringify(p.address));
      assert.equal(p.address[0].use, 'home');
    });

    it(`${FEATURE}: Get a "restricted" (sensitive) patient`, async () => {
      const res = await read(NHS.restricted);
      assert.equal(res.statusCode, 200);
      const p = res.json();
      assert.equal(p.id, NHS.restricted);
      assert.equal(p.address, undefined);
      assert.equal(p.generalPractitioner, undefined);
      assert.deepEqual(p.meta.security[0], {
        code: 'R',
        display: 'restricted',
        system: CONFIDENTIALITY,
      });
    });

    it(`${FEATURE}: Get an "invalid" patient (${COMMON} @invalidResource)`, async () => {
      assertPublished(await read('9000000000'), 400, 'INVALID_RESOURCE_ID');
    });

    it(`${FEATURE}: Allow Healthcare Worker Access with AAL2`, async () => {
      const token = await platform.token('R8000', { user: '656005750109' });
      const res = await read(NHS.jane, token);
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().id, NHS.jane);
    });

    it(`${COMMON}: @resourceNotFound Retrieve a patient with non-existent records should return 'RESOURCE_NOT_FOUND'`, async () => {
      assertPublished(await read('9727194737'), 404, 'RESOURCE_NOT_FOUND');
    });

    it(`${COMMON}: @invalidatedResource Retrieve a patient with invalidated records should return 'INVALIDATED_RESOURCE'`, async () => {
      assertPublished(await read('9990003343'), 404, 'INVALIDATED_RESOURCE');
    });
  });
}
