/**
 * Conformance: NHS England's karate-tests/src/test/java/patients/emptyAddressLines/searchForApatient.feature,
 * getPatientByNHSNumber.feature and getPaientsRelatedPerson.feature (NHSDigital/personal-demographics-service-api)
 * for the default application: blank address lines are dropped and the custom attribute header is
 * ignored (the empty-address-lines app's scenarios: SET-ASIDE.md).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RelatedPerson } from 'fhir/r4.js';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import {
  assertSearchset,
  commitPatients,
  commitRelatedPerson,
  fixture,
  PDS,
  qs,
} from '../../helpers/pds-fixtures.js';
import { karatePatient } from './read-search-support.js';

const SEARCH = 'emptyAddressLines/searchForApatient.feature';
const GET = 'emptyAddressLines/getPatientByNHSNumber.feature';
const RELATED = 'emptyAddressLines/getPaientsRelatedPerson.feature';
const BLANK_LINES = {
  id: 'A1',
  use: 'home' as const,
  period: { start: '2015-01-01' },
  line: ['1 Test Street', '', 'Testville', ''],
  postalCode: 'DN17 4AA',
};

/** utils.checkNullsHaveExtensions(addresses) == false: no null or blank line, no _line. */
function noBlankLines(addresses: any[] | undefined): void {
  for (const a of addresses ?? []) {
    assert.ok(
      (a.line ?? []).every((l: unknown) => typeof l === 'string' && l.trim() !== ''),
      JSON.stringify(a),
    );
    assert.equal(a._line, undefined);
  }
}

for (const kind of await storesUnderTest()) {
  describe(`PDS conformance: emptyAddressLines (${kind})`, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await startTestPlatform(kind);
      await commitPatients(platform.repo, [
        karatePatient({
          id: '5900035697',
          family: 'Jones',
          gender: 'male',
          birthDate: '1995-03-04',
          address: [BLANK_LINES],
        }),
        karatePatient({
          id: '9733162930',
          family: 'Patient',
          birthDate: '1990-01-01',
          address: [BLANK_LINES],
        }),
        karatePatient({ id: '9733162213', family: 'Related', birthDate: '1990-01-01' }),
      ]);
      const person: RelatedPerson = {
        ...fixture<RelatedPerson>('RelatedPerson.json'),
        id: 'RPBLANK',
        address: [{ use: 'home', line: ['2 Test Street', '', ''], postalCode: 'DN17 4AA' }],
      };
      await commitRelatedPerson(platform.repo, person, '9733162213');
    });
    after(async () => platform?.close());

    it(`${SEARCH}: Add empty address lines custom attribute for default test app - response should not include null address lines`, async () => {
      const res = await platform.request({
        url: `${PDS}/Patient?${qs([
          ['family', 'Jones'],
          ['gender', 'male'],
          ['birthdate', 'ge1992-01-01'],
          ['_max-results', '6'],
        ])}`,
        headers: { 'nhse-pds-custom-attributes': '{"return-empty-address-lines":"true"}' },
      });
      const b = assertSearchset(res);
      assert.equal(b.entry[0].resource.id, '5900035697');
      noBlankLines(b.entry[0].resource.address);
      assert.deepEqual(b.entry[0].resource.address[0].line, ['1 Test Street', 'Testville']);
      assert.equal(res.headers['nhse-pds-custom-attributes'], undefined);
    });

    it(`${GET}: Get a patient details (as the default app: blank lines dropped)`, async () => {
      const res = await platform.request({ url: `${PDS}/Patient/9733162930` });
      assert.equal(res.statusCode, 200);
      noBlankLines(res.json().address);
    });

    it(`${RELATED}: Patient has one related person (as the default app: blank lines dropped)`, async () => {
      const res = await platform.request({ url: `${PDS}/Patient/9733162213/RelatedPerson` });
      assert.equal(res.statusCode, 200);
      const b = res.json();
      assert.equal(b.total, 1);
      noBlankLines(b.entry[0].resource.address);
      assert.equal(res.headers['nhse-pds-custom-attributes'], undefined);
    });
  });
}
