/**
 * Conformance: NHS England's
 * karate-tests/src/test/java/patients/healthcareWorker/searchForAPatient/searchErrors.feature
 * (NHSDigital/personal-demographics-service-api): each refusal compared with the published error body.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import { PDS, qs } from '../../helpers/pds-fixtures.js';
import { assertPublished } from './read-search-support.js';

const FEATURE = 'searchErrors.feature';

for (const kind of await storesUnderTest()) {
  describe(`PDS conformance: ${FEATURE} (${kind})`, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await startTestPlatform(kind);
    });
    after(async () => platform?.close());

    const get = (params: Record<string, string>) =>
      platform.request({
        url: `${PDS}/Patient${Object.keys(params).length ? '?' + qs(Object.entries(params)) : ''}`,
      });

    it(`${FEATURE}: All invalid params`, async () => {
      const res = await get({ manufacturer: 'Ford', model: 'focus', year: '2003' });
      assert.equal(res.statusCode, 400);
      const diagnostics: string = res.json().issue[0].diagnostics;
      assert.ok(
        diagnostics.startsWith(
          'Invalid request with error - Additional properties are not allowed ',
        ),
        diagnostics,
      );
      for (const name of ['model', 'manufacturer', 'year'])
        assert.ok(diagnostics.includes(name), name);
      assert.ok(diagnostics.endsWith('were unexpected)'), diagnostics);
      assertPublished(res, 400, 'ADDITIONAL_PROPERTIES', { diagnostics });
    });

    it(`${FEATURE}: One invalid param`, async () => {
      assertPublished(
        await get({ family: 'Smith', birthdate: 'eq2010-10-22', year: '2003' }),
        400,
        'ADDITIONAL_PROPERTIES',
        {
          diagnostics:
            "Invalid request with error - Additional properties are not allowed ('year' was unexpected)",
        },
      );
    });

    it(`${FEATURE}: Valid/invalid search criteria`, async () => {
      assertPublished(
        await get({
          family: 'Sm*',
          gender: 'female',
          invalidParam: '123',
          birthdate: 'eq2010-10-22',
          email: 'j.smith@example.com',
          phone: '0163',
        }),
        400,
        'ADDITIONAL_PROPERTIES',
        {
          diagnostics:
            "Invalid request with error - Additional properties are not allowed ('invalidParam' was unexpected)",
        },
      );
    });

    it(`${FEATURE}: Unsuccessful search on email/phone only`, async () => {
      assertPublished(
        await get({ email: 'j.smith@example.com', phone: '0163' }),
        400,
        'MISSING_VALUE',
        { diagnostics: "Missing value - 'birth_date/birth_date_range_start/birth_date_range_end'" },
      );
    });

    it(`${FEATURE}: Invalid date format (birthdate)`, async () => {
      assertPublished(
        await get({ family: 'Smith', given: 'jane', gender: 'female', birthdate: '20101022' }),
        400,
        'INVALID_VALUE',
        { diagnostics: "Invalid value - '20101022' in field 'birthdate'" },
      );
    });

    it(`${FEATURE}: Invalid date format (death-date)`, async () => {
      assertPublished(
        await get({ family: 'Smith', given: 'jane', gender: 'female', 'death-date': '20101022' }),
        400,
        'INVALID_VALUE',
        { diagnostics: "Invalid value - '20101022' in field 'death-date'" },
      );
    });

    it(`${FEATURE}: Too few search params - No params`, async () => {
      assertPublished(await get({}), 400, 'UNSUPPORTED_SERVICE');
    });

    it(`${FEATURE}: Too few search params - Missing params other than birthdate`, async () => {
      assertPublished(await get({ birthdate: 'eq2010-10-22' }), 400, 'INVALID_SEARCH_DATA', {
        diagnostics:
          "Invalid search data provided - 'No searches were performed as the search criteria did not meet the minimum requirements'",
      });
    });

    it(`${FEATURE}: Too few search params - but system only flags birthdate!`, async () => {
      assertPublished(await get({ gender: 'female' }), 400, 'MISSING_VALUE', {
        diagnostics: "Missing value - 'birth_date/birth_date_range_start/birth_date_range_end'",
      });
    });
  });
}
