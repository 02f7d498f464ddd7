/**
 * Conformance: NHS England's
 * karate-tests/src/test/java/patients/confidentialRemovalReasons/getPatientByNHSNumber.feature
 * and searchForApatient.feature (NHSDigital/personal-demographics-service-api), for the default
 * application: OpenSpine has no per-application custom attributes, so every caller is answered as
 * the default test app is (scenarios needing the confidential-reasons app: SET-ASIDE.md).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Extension } from 'fhir/r4.js';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import { assertSearchset, commitPatients, PDS, qs } from '../../helpers/pds-fixtures.js';
import { karatePatient } from './read-search-support.js';

const GET = 'confidentialRemovalReasons/getPatientByNHSNumber.feature';
const SEARCH = 'confidentialRemovalReasons/searchForApatient.feature';
const REMOVAL_URL = 'https://fhir.nhs.uk/StructureDefinition/Extension-PDS-RemovalFromRegistration';
const DEATH_URL =
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus';

const removal = (code: string, display: string): Extension => ({
  url: REMOVAL_URL,
  extension: [
    {
      url: 'removalFromRegistrationCode',
      valueCodeableConcept: {
        coding: [
          { system: 'https://fhir.nhs.uk/CodeSystem/PDS-RemovalReasonExitCode', code, display },
        ],
      },
    },
    { url: 'effectiveTime', valuePeriod: { start: '2020-01-01T00:00:00+00:00' } },
  ],
});
const death: Extension = {
  url: DEATH_URL,
  extension: [
    {
      url: 'deathNotificationStatus',
      valueCodeableConcept: {
        coding: [
          {
            system: 'https://fhir.hl7.org.uk/CodeSystem/UKCore-DeathNotificationStatus',
            code: '2',
            display: 'Formal - death notice received from Registrar of Deaths',
          },
        ],
      },
    },
  ],
};

for (const kind of await storesUnderTest()) {
  describe(`PDS conformance: confidentialRemovalReasons (${kind})`, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await startTestPlatform(kind);
      await commitPatients(platform.repo, [
        karatePatient({
          id: '9733162981',
          family: 'Forces',
          birthDate: '1980-02-02',
          extension: [removal('AFN', 'Armed Forces (notified by Armed Forces)')],
        }),
        karatePatient({
          id: '9733163015',
          family: 'Deleted',
          birthDate: '1981-03-03',
          extension: [removal('LDN', 'Logical deletion')],
        }),
        karatePatient({
          id: '9733163058',
          family: 'Scot',
          birthDate: '1982-04-04',
          extension: [removal('SCT', 'Transferred to Scotland')],
        }),
        karatePatient({
          id: '9733163023',
          family: 'KELLET',
          gender: 'female',
          birthDate: '1972-06-01',
          extension: [removal('SDN', 'Services dependant (notified by SMO)')],
        }),
        karatePatient({
          id: '9733163074',
          family: 'COLE',
          gender: 'female',
          birthDate: '1964-08-28',
          deceased: '2024-01-01T00:00:00+00:00',
          extension: [death, removal('DEA', 'Death')],
        }),
      ]);
    });
    after(async () => platform?.close());

    async function read(nhs: string, headers: Record<string, string> = {}) {
      const res = await platform.request({ url: `${PDS}/Patient/${nhs}`, headers });
      assert.equal(res.statusCode, 200, res.body.slice(0, 300));
      assert.equal(res.headers['nhse-pds-custom-attributes'], undefined);
      return res.json();
    }
    const assertOtherReason = (p: any) => {
      assert.equal(p.extension[0].url, REMOVAL_URL);
      assert.deepEqual(
        {
          code: p.extension[0].extension[0].valueCodeableConcept.coding[0].code,
          display: p.extension[0].extension[0].valueCodeableConcept.coding[0].display,
        },
        { code: 'ORR', display: 'Other Reason' },
      );
    };

    it(`${GET}: Get a patient details- RemovalReasonExitCode should be SCT - Transferred to Scotland`, async () => {
      const p = await read('9733163058');
      assert.equal(p.extension[0].url, REMOVAL_URL);
      assert.equal(p.extension[0].extension[0].valueCodeableConcept.coding[0].code, 'SCT');
      assert.equal(
        p.extension[0].extension[0].valueCodeableConcept.coding[0].display,
        'Transferred to Scotland',
      );
    });

    it(`${GET}: Get a patient details- RemovalReasonExitCode should be converted from 'Logical deletion' (LDN) to 'Other Reason' (ORR)`, async () => {
      assertOtherReason(await read('9733163015'));
    });

    it(`${GET}: Get a patient details- RemovalReasonExitCode should be converted from Armed Forces (notified by Armed Forces) AFN to 'Other Reason' (ORR) for non screening users`, async () => {
      assertOtherReason(await read('9733162981'));
    });

    it(`${GET}: Response should not include confidential reasons when default test app include the confidential reasons custom attribute`, async () => {
      assertOtherReason(
        await read('9733162981', {
          'nhse-pds-custom-attributes': '{"return-confidential-reason-for-removal":"true"}',
        }),
      );
    });

    it(`${SEARCH}: Search for a patient using parameters response should not include reason for removal details (as the default app)`, async () => {
      const b = assertSearchset(
        await platform.request({
          url: `${PDS}/Patient?${qs([
            ['family', 'KELLET'],
            ['gender', 'female'],
            ['birthdate', '1972-06-01'],
          ])}`,
        }),
      );
      assert.equal(b.entry[0].resource.id, '9733163023');
      assert.equal(b.entry[0].resource.extension, undefined);
    });

    it(`${SEARCH}: Search for a patient using parameters response should not include reason for removal details for default test app`, async () => {
      const b = assertSearchset(
        await platform.request({
          url: `${PDS}/Patient?${qs([
            ['family', 'COLE'],
            ['gender', 'female'],
            ['birthdate', '1964-08-28'],
          ])}`,
        }),
      );
      assert.equal(b.entry[0].resource.id, '9733163074');
      assert.equal(b.entry[0].resource.extension[0].url, DEATH_URL);
      assert.equal(b.entry[0].resource.extension[1], undefined);
    });
  });
}
