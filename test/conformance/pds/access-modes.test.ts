/**
 * PDS's access modes, scenario by scenario from NHS England's published Karate features
 * (NHSDigital/personal-demographics-service-api, karate-tests/src/test/java/patients/):
 * privilegedAccessMode/*.feature, appRestricted/{getPatientByNHSNumber,getPatientsRelatedPerson,
 * createPatient,updatePatient}.feature, healthcareWorker/getPatientDetails/getPatientInvalidRoleErrors.feature
 * and interactionFreeAppRequest.feature, with the common/ steps they call. The suite's INT patients
 * are loaded by the test with the demographics each scenario relies on. Scenarios set aside are in
 * SET-ASIDE.md ("Access modes").
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { RelatedPerson } from 'fhir/r4.js';
import type { LightMyRequestResponse } from 'fastify';
import {
  mintApplicationToken,
  mintPatientToken,
  mintToken,
} from '../../../src/security/embedded-idp.js';
import { commitPatients, commitRelatedPerson, fixture, PDS } from '../../helpers/pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import { assertPublishedError, assertPublishedRefusal, fill, published } from './karate.js';
import { appRestrictedSearchPatients, createVars, karateTemplate } from './published.js';
import { assertIdsEchoed, assertPublished, karatePatient } from './read-search-support.js';

const K = {
  privGet: 'privilegedAccessMode/getPatient.feature',
  privRead: 'privilegedAccessMode/getPatientByNHSNumber.feature',
  privRelated: 'privilegedAccessMode/getPatientsRelatedPerson.feature',
  privCreate: 'privilegedAccessMode/createPatient.feature',
  privUpdate: 'privilegedAccessMode/updatePatient.feature',
  privCoverage: 'privilegedAccessMode/getCoverage.feature',
  privUpdateCoverage: 'privilegedAccessMode/updateCoverage.feature',
  privBirth: 'privilegedAccessMode/createNewPdsRecordAtBirth.feature',
  appRead: 'appRestricted/getPatientByNHSNumber.feature',
  appRelated: 'appRestricted/getPatientsRelatedPerson.feature',
  appCreate: 'appRestricted/createPatient.feature',
  appUpdate: 'appRestricted/updatePatient.feature',
  roles: 'healthcareWorker/getPatientDetails/getPatientInvalidRoleErrors.feature',
  interactions: 'interactionFreeAppRequest.feature',
};
const METHOD_DENIED =
  'Your app has insufficient permissions to use this method. Please contact support.';
const OPERATION_DENIED =
  'Your app has insufficient permissions to use this operation. Please contact support.';
const URID_GUIDANCE =
  'Refer to the guidance for this header in our API Specification https://digital.nhs.uk/developer/api-catalogue/personal-demographics-service-fhir';
const CONFIDENTIALITY = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';

for (const kind of await storesUnderTest()) {
  describe(`PDS access modes, as published (${kind})`, () => {
    let platform: TestPlatform;
    let privileged: string;
    let app: string;

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      const gp = 'Y12345';
      await commitPatients(platform.repo, [
        ...appRestrictedSearchPatients(),
        karatePatient({
          id: '9000000092',
          family: 'GOUGH',
          given: ['Fancy'],
          birthDate: '1993-12-02',
          label: 'R',
          gp,
          telecom: [{ id: 'T1', system: 'phone', use: 'mobile', value: '07556588324' }],
        }),
        karatePatient({
          id: '9727022820',
          family: 'Restricted',
          birthDate: '1980-05-05',
          label: 'R',
          gp,
          telecom: [{ id: 'T1', system: 'phone', use: 'home', value: '01632960111' }],
        }),
        karatePatient({
          id: '9727024610',
          family: 'VeryRestricted',
          birthDate: '1981-06-06',
          label: 'V',
          gp,
          telecom: [{ id: 'T1', system: 'phone', use: 'home', value: '01632960222' }],
        }),
        karatePatient({ id: '9733162825', family: 'Ordinary', birthDate: '1975-03-03', gp }),
        karatePatient({ id: '9733162817', family: 'Updatable', birthDate: '1976-04-04', gp }),
        karatePatient({ id: '9733162507', family: 'Armed', birthDate: '1970-02-02', label: 'R' }),
        karatePatient({
          id: '9990003343',
          family: 'Invalidated',
          birthDate: '1990-01-01',
          label: 'REDACTED' as any,
        }),
        karatePatient({ id: '9693633679', family: 'YOUDS', birthDate: '1970-01-24' }),
        karatePatient({ id: '9693632109', family: 'GARTON', birthDate: '1955-11-05' }),
        karatePatient({ id: '9733162868', family: 'Coverage', birthDate: '1985-08-08' }),
      ]);
      const related = (id: string): RelatedPerson => ({
        ...fixture<RelatedPerson>('RelatedPerson.json'),
        id,
      });
      await commitRelatedPerson(platform.repo, related('RP679'), '9693633679');
      await commitRelatedPerson(platform.repo, related('RP507'), '9733162507');
      const audience = platform.config.audience;
      privileged = await mintApplicationToken(platform.key, {
        clientId: 'karate-privileged',
        name: 'Privileged app',
        org: 'Y12345',
        scopes: ['pds.read', 'pds.search'],
        audience,
        accessMode: 'privileged-application-restricted',
      });
      app = await mintApplicationToken(platform.key, {
        clientId: 'karate-app',
        name: 'App-restricted app',
        org: 'Y12345',
        scopes: ['pds.read', 'pds.search'],
        audience,
      });
    });
    after(() => platform?.close());

    const headers = () => ({
      'x-request-id': randomUUID(),
      'x-correlation-id': randomUUID(),
      'nhsd-session-id': '123',
    });
    async function get(
      url: string,
      token: string | null,
      extra: Record<string, string> = {},
    ): Promise<LightMyRequestResponse> {
      const sent = { ...headers(), ...extra };
      const res = await platform.request({ url: `${PDS}${url}`, token, headers: sent });
      assertIdsEchoed(res, sent);
      return res;
    }
    const emptySearchset = (res: LightMyRequestResponse) => {
      assert.equal(res.statusCode, 200, res.body);
      const { timestamp, ...rest } = res.json();
      assert.ok(!Number.isNaN(Date.parse(timestamp)), 'timestamp');
      return rest;
    };

    describe('privileged application-restricted search', () => {
      it(`${K.privGet}: All headers provided - privileged-application-restricted user can search for a patient and get a single match result returned`, async () => {
        const res = await get(
          '/Patient?family=Smith&gender=female&birthdate=eq2018-06-08',
          privileged,
        );
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().total, 1);
        assert.equal(res.json().entry[0].resource.id, '9000000041');
      });

      it(`${K.privGet}: Missing Authorization header with privileged application restricted access`, async () => {
        const res = await get('/Patient', null);
        assert.equal(res.statusCode, 401);
        assert.equal(res.json().issue[0].diagnostics, 'Missing Authorization header');
      });

      for (const [header, diagnostics] of [
        ['', 'Empty Authorization header'],
        ['Bearer INVALID_TOKEN!!!', 'Invalid Access Token'],
        ['Bearer', 'Missing access token'],
      ]) {
        it(`${K.privGet}: Authorization header issues with privileged application restricted access - ${diagnostics}`, async () => {
          const res = await get('/Patient', null, { authorization: header });
          assert.equal(res.statusCode, 401, res.body);
          assert.equal(res.json().issue[0].diagnostics, diagnostics);
        });
      }

      it(`${K.privGet}: NHSD-SESSION-URID header is not required - privileged-application-restricted access mode`, async () => {
        const res = await platform.request({
          url: `${PDS}/Patient?family=Smith&gender=female&birthdate=2010-10-22`,
          token: privileged,
          headers: { 'x-request-id': randomUUID(), 'x-correlation-id': randomUUID() },
        });
        assert.equal(res.statusCode, 200, res.body);
        const { resourceType, type, total } = res.json();
        assert.deepEqual(
          { resourceType, type, totalIsNumber: typeof total === 'number' },
          { resourceType: 'Bundle', type: 'searchset', totalIsNumber: true },
        );
      });

      it(`${K.privGet}: PDS FHIR API accepts request for one result - privileged-application-restricted access mode`, async () => {
        const res = await get(
          '/Patient?family=Smith&gender=female&birthdate=2010-10-22&email=jane.smith@example.com&phone=01632960587&_max-results=1',
          privileged,
        );
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().total, 1);
      });

      it(`${K.privGet}: Too many matches message when search result return more than one match - privileged-application-restricted access mode`, async () => {
        const one = await get(
          '/Patient?family=Ma*&gender=female&birthdate=eq1957-07-23',
          privileged,
        );
        assert.equal(one.json().total, 1, one.body);
        const many = await get(
          '/Patient?family=Ma*&gender=female&birthdate=ge1957-07-23',
          privileged,
        );
        assert.equal(many.statusCode, 200, many.body);
        assert.deepEqual(many.json(), fixture('searchResponses/TOO_MANY_MATCHES.json'));
      });

      it(`${K.privGet}: Patient search response should not include address, telecoms, registered GP details for privileged access`, async () => {
        const res = await get(
          '/Patient?family=GOUGH&gender=female&birthdate=1993-12-02&given=Fancy&phone=07556588324',
          privileged,
        );
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().total, 1);
        const found = res.json().entry[0].resource;
        assert.equal(found.id, '9000000092');
        assert.equal(found.address, undefined);
        assert.equal(found.telecom, undefined);
        assert.equal(found.generalPractitioner, undefined);
      });
    });

    describe('privileged application-restricted read', () => {
      it(`${K.privRead}: Get a "restricted" (sensitive) patient response: labelled restricted, no privileged-access header (its location withheld: SET-ASIDE.md)`, async () => {
        const res = await get('/Patient/9727022820', privileged);
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json();
        assert.equal(body.id, '9727022820');
        assert.equal(res.headers['nhse-pds-privileged-access'], undefined);
        assert.deepEqual(body.meta.security[0], {
          code: 'R',
          display: 'restricted',
          system: CONFIDENTIALITY,
        });
        // the platform's rule: a restricted patient's location never leaves it, whoever asks
        assert.equal(body.address, undefined);
        assert.equal(body.telecom, undefined);
        assert.equal(body.generalPractitioner, undefined);
        assert.equal(body.name[0].family, 'Restricted');
      });

      it(`${K.privRead}: Get a "very restricted" patient response should not include address, telecoms, registered GP and nominated pharmacy details for privileged access`, async () => {
        const res = await get('/Patient/9727024610', privileged);
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json();
        assert.equal(body.id, '9727024610');
        for (const field of [
          'name',
          'birthDate',
          'address',
          'generalPractitioner',
          'telecom',
          'extension',
        ])
          assert.equal(body[field], undefined, field);
        assert.equal(res.headers['nhse-pds-privileged-access'], undefined);
        assert.deepEqual(body.meta.security[0], {
          code: 'V',
          display: 'very restricted',
          system: CONFIDENTIALITY,
        });
        // the label governs every reader, not only applications
        const staff = await get('/Patient/9727024610', await platform.token('R8000'));
        assert.equal(staff.json().name, undefined);
        assert.equal(staff.json().birthDate, undefined);
      });

      it(`${K.privRead}: Get a non sensitive patient details with privileged access`, async () => {
        const res = await get('/Patient/9733162825', privileged);
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().id, '9733162825');
        assert.equal(res.json().name[0].family, 'Ordinary');
        assert.ok(res.json().address.length > 0);
      });

      for (const [feature, token] of [
        [K.privRead, () => privileged],
        [K.appRead, () => app],
      ] as const) {
        const mode = feature === K.privRead ? 'privileged access' : 'app restricted access';
        it(`${feature}: Retrieve a patient with an invalid NHS number format should return 'invalid resource' with ${mode}`, async () => {
          assertPublished(await get('/Patient/9000000000', token()), 400, 'INVALID_RESOURCE_ID');
        });
        it(`${feature}: Retrieve a patient with non-existent records should return 'RESOURCE_NOT_FOUND' with ${mode}`, async () => {
          assertPublished(await get('/Patient/9727194737', token()), 404, 'RESOURCE_NOT_FOUND');
        });
        it(`${feature}: Retrieve a patient with invalidated records should return 'INVALIDATED_RESOURCE' with ${mode}`, async () => {
          assertPublished(await get('/Patient/9990003343', token()), 404, 'INVALIDATED_RESOURCE');
        });
      }

      it(`${K.appRead}: Get a patients details`, async () => {
        const res = await get('/Patient/9733162825', app);
        assert.equal(res.statusCode, 200, res.body);
        assert.equal(res.json().id, '9733162825');
      });
    });

    describe('related people', () => {
      for (const [feature, token, suffix] of [
        [K.privRelated, () => privileged, ' - privileged-application-restricted access mode'],
        [K.appRelated, () => app, ' with application-restricted access'],
      ] as const) {
        it(`${feature}: Patient has one related person${suffix}`, async () => {
          const res = await get('/Patient/9693633679/RelatedPerson', token());
          assert.equal(res.statusCode, 200, res.body);
          assert.equal(res.json().total, 1);
          assert.equal(res.json().entry[0].resource.resourceType, 'RelatedPerson');
        });
        it(`${feature}: Patient doesn't have a related person${suffix === ' - privileged-application-restricted access mode' ? '- privileged-application-restricted access mode' : suffix}`, async () => {
          const body = emptySearchset(await get('/Patient/9693632109/RelatedPerson', token()));
          // the published body has no link; every searchset of the platform carries a self link (SET-ASIDE.md)
          const { link, ...rest } = body;
          assert.equal(link?.[0]?.relation, 'self');
          assert.deepEqual(rest, { resourceType: 'Bundle', type: 'searchset', total: 0 });
        });
      }

      it(`${K.privRelated}: Related people are not returned for a restricted/sensitive patient and an empty bundle is returned`, async () => {
        const body = emptySearchset(await get('/Patient/9733162507/RelatedPerson', privileged));
        const { link: _self, ...rest } = body;
        assert.deepEqual(rest, { resourceType: 'Bundle', type: 'searchset', total: 0 });
        // the patient does have one: a user sees none either, as the record is restricted
        assert.equal(
          (
            await platform.repo.search({
              type: 'RelatedPerson',
              criteria: [{ any: [{ param: 'patient', op: 'eq', value: '9733162507' }] }],
              limit: 5,
            })
          ).length,
          1,
        );
      });
    });

    describe('writes refused in either application-restricted mode', () => {
      for (const [feature, token, mode] of [
        [K.privCreate, () => privileged, 'privileged-application-restricted'],
        [K.appCreate, () => app, 'application-restricted'],
      ] as const) {
        it(`${feature}: Invalid Method error should be raised for nhs number allocation (${mode})`, async () => {
          const before = await platform.repo.count('Patient');
          const res = await platform.request({
            method: 'POST',
            url: `${PDS}/Patient`,
            token: token(),
            headers: headers(),
            body: karateTemplate('post-patient-request', createVars()),
          });
          assertPublishedRefusal(res, 403, 'INVALID_METHOD', {
            display: `Cannot create resource with ${mode} access token`,
            diagnostics: METHOD_DENIED,
          });
          assert.equal(await platform.repo.count('Patient'), before);
        });
      }

      for (const [feature, token, mode] of [
        [K.privUpdate, () => privileged, 'privileged-application-restricted'],
        [K.appUpdate, () => app, 'application-restricted'],
      ] as const) {
        it(`${feature}: Invalid Method error should be raised when ${mode} user try to update patient details`, async () => {
          const read = await get('/Patient/9733162817', token());
          assert.equal(read.statusCode, 200, read.body);
          const etag = String(read.headers.etag);
          const res = await platform.request({
            method: 'PATCH',
            url: `${PDS}/Patient/9733162817`,
            token: token(),
            headers: { ...headers(), 'if-match': etag },
            body: karateTemplate('emergencyContact', { mobileNumber: '0788848687' }),
            contentType: 'application/json-patch+json',
          });
          assertPublishedRefusal(res, 403, 'INVALID_METHOD', {
            display: `Cannot update resource with ${mode} access token`,
            diagnostics: METHOD_DENIED,
          });
          assert.equal(
            (await get('/Patient/9733162817', token())).headers.etag,
            etag,
            'the record is unchanged',
          );
        });
      }

      it(`${K.privCoverage}: Fail to retrieve a Coverage resource with privileged access`, async () => {
        const res = await get('/Coverage?subscriber:identifier=9999999999', privileged);
        assertPublishedRefusal(res, 403, 'ACCESS_DENIED', {
          display: 'Cannot GET resource with privileged-application-restricted access token',
          diagnostics: OPERATION_DENIED,
        });
      });

      it(`${K.privUpdateCoverage}: Fail to update a Coverage resource with privileged access`, async () => {
        const read = await get('/Patient/9733162825', privileged);
        const body = fill(published('coverage/update-patient-coverage-request.json'), {
          periodEndDate: '2030-01-01',
          nhsNumber: '9733162825',
        });
        const res = await platform.request({
          method: 'POST',
          url: `${PDS}/Coverage`,
          token: privileged,
          headers: { ...headers(), 'if-match': String(read.headers.etag) },
          body,
          contentType: 'application/json',
        });
        assertPublishedRefusal(res, 403, 'ACCESS_DENIED', {
          display: 'Cannot POST resource with privileged-application-restricted access token',
          diagnostics: OPERATION_DENIED,
        });
      });

      it(`${K.privBirth}: Invalid Method error should be raised for creat a new record at birth with privileged access`, async () => {
        const res = await platform.request({
          method: 'POST',
          url: `${PDS}/Patient/$process-birth-details`,
          token: privileged,
          headers: headers(),
          body: { resourceType: 'Bundle' },
          contentType: 'application/json',
        });
        assertPublishedRefusal(res, 403, 'INVALID_METHOD', {
          display: 'Cannot create resource with privileged-application-restricted access token',
          diagnostics: METHOD_DENIED,
        });
      });
    });

    describe('role selection (NHSD-Session-URID)', () => {
      const darren = () =>
        mintToken(platform.key, {
          userId: '656005750107',
          role: 'R8000',
          org: 'Y12345',
          profileId: '555254242102',
          audience: platform.config.audience,
          profiles: [{ id: '555254242102', role: 'R8000', org: 'Y12345' }],
        });
      // the suite's user with several role profiles signs in without choosing one
      const multiRole = () =>
        mintToken(platform.key, {
          userId: '656005750104',
          role: '',
          org: '',
          audience: platform.config.audience,
          profiles: [
            { id: '555254240100', role: 'R8000', org: 'Y12345' },
            { id: '555254240101', role: 'R8004', org: 'Y23456' },
          ],
        });

      it(`${K.roles}: Attempt to retrieve a patient without stating a role`, async () => {
        const res = await get('/Patient/9693632109', await multiRole());
        assertPublished(res, 400, 'INVALID_VALUE', {
          diagnostics: `Invalid value - '' in header 'NHSD-Session-URID'. ${URID_GUIDANCE}`,
        });
      });

      it(`${K.roles}: Attempt to retrieve a patient with an invalid role`, async () => {
        const res = await get('/Patient/9693632109', await darren(), {
          'nhsd-session-urid': 'invalid',
        });
        assertPublished(res, 400, 'INVALID_VALUE', {
          diagnostics: `Invalid value - 'invalid' in header 'NHSD-Session-URID'. ${URID_GUIDANCE}`,
        });
      });

      it('a request acts in the role profile its NHSD-Session-URID names (not a published scenario)', async () => {
        const token = await multiRole();
        assert.equal(
          (await get('/Patient/9693632109', token, { 'nhsd-session-urid': '555254240101' }))
            .statusCode,
          200,
        );
        // the student profile (R8004) may not create; the clinician profile (R8000) may
        const create = (urid: string) =>
          platform.request({
            method: 'POST',
            url: `${PDS}/Patient`,
            token,
            headers: { ...headers(), 'nhsd-session-urid': urid },
            body: karateTemplate('post-patient-request', createVars()),
          });
        const refused = await create('555254240101');
        assert.equal(refused.statusCode, 403, refused.body);
        assert.match(
          refused.json().issue[0].diagnostics,
          /Role R8004 is not permitted to perform 'pds.create'/,
        );
        assert.equal((await create('555254240100')).statusCode, 201);
        // a user with one role profile needs no header
        assert.equal((await get('/Patient/9693632109', await darren())).statusCode, 200);
        assert.equal(
          (
            await get('/Patient/9693632109', await darren(), {
              'nhsd-session-urid': '555254242102',
            })
          ).statusCode,
          200,
        );
      });
    });

    describe('an application without the interaction', () => {
      it(`${K.interactions}: Make GET /Patient request from app that does not have pdsquery:PatientRetrieve interaction`, async () => {
        const token = await mintToken(platform.key, {
          userId: '656005750107',
          role: 'R8000',
          org: 'Y12345',
          audience: platform.config.audience,
          appActivities: ['pds.search'],
        });
        const res = await get('/Patient/9693632109', token);
        assert.equal(res.statusCode, 401, res.body);
        assert.equal(res.json().issue[0].details.coding[0].display, 'Access Denied - Unauthorised');
        // the same user through an application registered for retrieval
        const registered = await mintToken(platform.key, {
          userId: '656005750107',
          role: 'R8000',
          org: 'Y12345',
          audience: platform.config.audience,
          appActivities: ['pds.read'],
        });
        assert.equal((await get('/Patient/9693632109', registered)).statusCode, 200);
      });

      it(`${K.interactions}: Make GET /Coverage request from app that does not have pdsquery:CoverageRetrieve interaction`, async () => {
        const token = await mintPatientToken(platform.key, {
          nhsNumber: '9733162868',
          audience: platform.config.audience,
          appActivities: ['pds.read', 'pds.update'],
        });
        const res = await get('/Coverage?subscriber:identifier=9733162868', token);
        assert.equal(res.statusCode, 401, res.body);
        assertPublishedError(res, 401, 'ACCESS_DENIED', {
          display: 'Access Denied - Unauthorised',
          diagnostics: res.json().issue[0].diagnostics,
        });
        assert.match(res.json().issue[0].diagnostics, /not registered for 'pds.coverage.read'/);
      });
    });
  });
}
