/**
 * Conformance: NHS England's karate-tests/src/test/java/patients/recordSharingConsent/getPatientByNHSNumber.feature
 * and searchForApatient.feature (NHSDigital/personal-demographics-service-api), for the default
 * application (OpenSpine has no per-application custom attributes; the consent app's scenarios: SET-ASIDE.md).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Extension } from 'fhir/r4.js';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import { assertSearchset, commitPatients, PDS, qs } from '../../helpers/pds-fixtures.js';
import { karatePatient } from './read-search-support.js';

const GET = 'recordSharingConsent/getPatientByNHSNumber.feature';
const SEARCH = 'recordSharingConsent/searchForApatient.feature';
const CONSENT_URL = 'https://hl7.org/fhir/R4/consent.html';

const consent = (value: string, display: string): Extension => ({
  url: CONSENT_URL,
  extension: [
    { url: 'consentType', valueCodeableConcept: { coding: [{ code: '4', display: 'ncrs' }] } },
    { url: 'consentValue', valueCodeableConcept: { coding: [{ code: value, display }] } },
  ],
});

for (const kind of await storesUnderTest()) {
  describe(`PDS conformance: recordSharingConsent (${kind})`, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await startTestPlatform(kind);
      await commitPatients(platform.repo, [
        karatePatient({
          id: '9733163767',
          family: 'SEGAR',
          gender: 'female',
          birthDate: '1995-07-03',
          extension: [consent('1', 'consent')],
        }),
        karatePatient({
          id: '9733163759',
          family: 'SUTTER',
          gender: 'female',
          birthDate: '1987-02-05',
          extension: [consent('2', 'dissent')],
        }),
      ]);
    });
    after(async () => platform?.close());

    it(`${GET}: Response should not include consent sharing extension when default test app include the return-nhs-record-sharing-consent custom attribute header`, async () => {
      const res = await platform.request({
        url: `${PDS}/Patient/9733163767`,
        headers: { 'nhse-pds-custom-attributes': '{"return-nhs-record-sharing-consent":"true"}' },
      });
      assert.equal(res.statusCode, 200);
      const p = res.json();
      const consentTypes = (p.extension ?? []).filter((x: any) => x.url === 'consentType');
      assert.deepEqual(consentTypes, []);
      assert.ok(
        !(p.extension ?? []).some((x: any) => x.url === CONSENT_URL),
        'no consent extension for the default app',
      );
      assert.equal(res.headers['nhse-pds-custom-attributes'], undefined);
    });

    for (const [scenario, family, birthdate, id] of [
      [
        'Search for a patient using parameters response should not include consent sharing details (as the default app)',
        'SEGAR',
        '1995-07-03',
        '9733163767',
      ],
      [
        'Search for a patient using parameters response should not include consent sharing details for default test app',
        'SUTTER',
        '1987-02-05',
        '9733163759',
      ],
    ]) {
      it(`${SEARCH}: ${scenario}`, async () => {
        const b = assertSearchset(
          await platform.request({
            url: `${PDS}/Patient?${qs([
              ['family', family],
              ['gender', 'female'],
              ['birthdate', birthdate],
            ])}`,
          }),
        );
        assert.equal(b.entry[0].resource.id, id);
        assert.equal(b.entry[0].resource.extension, undefined);
      });
    }
  });
}
