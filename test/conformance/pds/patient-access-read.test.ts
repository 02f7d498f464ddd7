/**
 * Patient access to reads, scenario by scenario from NHS England's published Karate features
 * (NHSDigital/personal-demographics-service-api, karate-tests/src/test/java/patients/):
 * patientAccess/getPatient.feature, patientAccess/getPatientRelatedPerson.feature and
 * patientAccess/invalidHeaders.feature. NHS login's identity proofing level and vector of trust
 * are claims of the patient's token; the suite's patients are loaded by the test.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { RelatedPerson } from 'fhir/r4.js';
import type { LightMyRequestResponse } from 'fastify';
import { mintPatientToken } from '../../../src/security/embedded-idp.js';
import { commitPatients, commitRelatedPerson, fixture, PDS } from '../../helpers/pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import { assertPublishedError } from './karate.js';
import { assertIdsEchoed, karatePatient } from './read-search-support.js';

const F = {
  get: 'patientAccess/getPatient.feature',
  related: 'patientAccess/getPatientRelatedPerson.feature',
  headers: 'patientAccess/invalidHeaders.feature',
};
const DENIED = {
  display: 'Patient cannot perform this action',
  diagnostics:
    'Your access token has insufficient permissions. See documentation regarding Patient access restrictions https://digital.nhs.uk/developer/api-catalogue/personal-demographics-service-fhir',
};
const P9 = '9912003071';
const P5 = '9912003072';
const P0 = '9912003073';

for (const kind of await storesUnderTest()) {
  describe(`PDS patient access reads, as published (${kind})`, () => {
    let platform: TestPlatform;

    before(async () => {
      platform = await startTestPlatform(kind);
      await commitPatients(platform.repo, [
        karatePatient({ id: P9, family: 'Patient', given: ['Pnine'], birthDate: '1990-01-01' }),
        karatePatient({ id: '5900068196', family: 'Cp', birthDate: '1990-02-02' }),
        karatePatient({ id: '9472063810', family: 'NoVot', birthDate: '1990-03-03' }),
        karatePatient({ id: '9900000285', family: 'CpCd', birthDate: '1990-04-04' }),
        karatePatient({ id: '5900071332', family: 'Cm', birthDate: '1990-05-05' }),
        karatePatient({ id: '5900069176', family: 'CpCk', birthDate: '1990-06-06' }),
        karatePatient({ id: '9693632109', family: 'GARTON', birthDate: '1955-11-05' }),
        karatePatient({
          id: '9000000009',
          family: 'Bobins',
          gender: 'male',
          birthDate: '2008-06-03',
        }),
      ]);
      await commitRelatedPerson(
        platform.repo,
        { ...fixture<RelatedPerson>('RelatedPerson.json'), id: 'RP285' },
        '9900000285',
      );
      await commitRelatedPerson(
        platform.repo,
        { ...fixture<RelatedPerson>('RelatedPerson.json'), id: 'RP109' },
        '9693632109',
      );
    });
    after(() => platform?.close());

    const token = (nhsNumber: string, opts: { proofingLevel?: string; vot?: string | null } = {}) =>
      mintPatientToken(platform.key, { nhsNumber, audience: platform.config.audience, ...opts });
    async function get(
      url: string,
      bearer: string | null,
      extra: Record<string, string> = {},
    ): Promise<LightMyRequestResponse> {
      const sent = { 'x-request-id': randomUUID(), 'x-correlation-id': randomUUID(), ...extra };
      const res = await platform.request({ url: `${PDS}${url}`, token: bearer, headers: sent });
      if (sent['x-request-id'] && res.statusCode !== 400) assertIdsEchoed(res, sent);
      return res;
    }

    it(`${F.get}: P9 Patient can authenticate and retrieve their own details`, async () => {
      const res = await get(`/Patient/${P9}`, await token(P9));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().id, P9);
      assert.equal(res.json().resourceType, 'Patient');
    });

    for (const [patientType, nhsNumber, claims] of [
      ['P0', P0, { proofingLevel: 'P0' }],
      ['P5', P5, { proofingLevel: 'P5' }],
      ['P9.Cp', '5900068196', { vot: 'P9.Cp' }],
      ['P9 only(no vot)', '9472063810', { vot: null }],
    ] as const) {
      it(`${F.get}: ${patientType} users can authenticate but can't retrieve their own details (${patientType} example)`, async () => {
        assertPublishedError(
          await get(`/Patient/${nhsNumber}`, await token(nhsNumber, claims)),
          403,
          'ACCESS_DENIED',
          DENIED,
        );
      });
    }

    it(`${F.get}: P9 Patient can't retrieve details of another patient`, async () => {
      assertPublishedError(
        await get(`/Patient/${P5}`, await token(P9)),
        403,
        'ACCESS_DENIED',
        DENIED,
      );
    });

    it(`${F.get}: P9 Patient can't search for a patient (including searching for their own record)`, async () => {
      assertPublishedError(
        await get('/Patient?family=Bobins&gender=male&birthdate=eq2008-06-03', await token(P9)),
        403,
        'ACCESS_DENIED',
        DENIED,
      );
    });

    for (const [vot, nhsNumber] of [
      ['P9.Cp.Cd', '9900000285'],
      ['P9.Cm', '5900071332'],
      ['P9.Cp.Ck', '5900069176'],
    ] as const) {
      it(`${F.get}: ${vot} user can authenticate and retrieve their own details`, async () => {
        const res = await get(`/Patient/${nhsNumber}`, await token(nhsNumber, { vot }));
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().id, nhsNumber);
      });
    }

    it(`${F.related}: Patient can do related person search for their own record (@oas-bug: status only, as the feature asserts)`, async () => {
      const res = await get('/Patient/9900000285/RelatedPerson', await token('9900000285'));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().total, 1);
    });

    it(`${F.related}: Patient can't do related person search for another patient's record`, async () => {
      assertPublishedError(
        await get('/Patient/9693632109/RelatedPerson', await token('9900000285')),
        403,
        'ACCESS_DENIED',
        DENIED,
      );
    });

    const search = '/Patient?family=Capon&gender=male&birthdate=eq1953-05-29';
    for (const [operation, url] of [
      ['get', '/Patient/9693632109'],
      ['search', search],
    ] as const) {
      for (const [headerValue, diagnostics] of [
        [undefined, 'Missing Authorization header'],
        ['Bearer', 'Missing access token'],
        ['Bearer abcdef123456789', 'Invalid Access Token'],
      ] as const) {
        it(`${F.headers}: Auth errors: patient ${operation} - ${diagnostics}`, async () => {
          const res = await get(
            url,
            null,
            headerValue === undefined ? {} : { authorization: headerValue },
          );
          assertPublishedError(res, 401, 'ACCESS_DENIED', {
            display: 'Access Denied - Unauthorised',
            diagnostics,
          });
        });
      }
      for (const [headerValue, diagnostics, code] of [
        [
          '',
          'Invalid request with error - X-Request-ID header must be supplied to access this resource',
          'MISSING_VALUE',
        ],
        ['1234', "Invalid value - '1234' in header 'X-Request-ID'", 'INVALID_VALUE'],
      ] as const) {
        it(`${F.headers}: x-request-id errors: patient ${operation} - ${diagnostics}`, async () => {
          const res = await get(url, await token(P9), { 'x-request-id': headerValue });
          assert.equal(
            res.headers['x-correlation-id'] !== undefined,
            true,
            'the correlation id comes back',
          );
          assertPublishedError(res, 400, code, { diagnostics });
        });
      }
    }

    // the published scenario has a title and no steps; a token past its expiry is refused as any bad token is
    it(`${F.headers}: Expired access token`, async () => {
      const expired = await mintPatientToken(platform.key, {
        nhsNumber: P9,
        audience: platform.config.audience,
        ttlSeconds: -60,
      });
      const res = await get(`/Patient/${P9}`, expired);
      assert.equal(res.statusCode, 401, res.body);
      assert.equal(res.json().issue[0].details.coding[0].display, 'Access Denied - Unauthorised');
      assert.equal(res.json().issue[0].diagnostics, 'Access token has expired');
    });
  });
}
