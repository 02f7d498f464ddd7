/**
 * PDS Coverage (EHIC details): GET and POST /Coverage, scenario by scenario from NHS England's
 * published Karate features (NHSDigital/personal-demographics-service-api,
 * karate-tests/src/test/java/patients/{patientAccess,healthcareWorker,appRestricted}/*Coverage*.feature).
 * The suite's INT test patients are loaded through the repository; each `it` names the feature file
 * and scenario it comes from. Scenarios only the hosted service can show: SET-ASIDE.md.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Patient } from 'fhir/r4.js';
import type { LightMyRequestResponse } from 'fastify';
import { mintApplicationToken, mintPatientToken } from '../../../src/security/embedded-idp.js';
import {
  coverageDocument,
  coverageIndex,
  COVERAGE,
} from '../../../src/services/pds/coverage-model.js';
import { indexPatient } from '../../../src/services/pds/patient-index.js';
import { startTestPlatform, type TestPlatform } from '../../helpers/platform.js';
import { storesUnderTest } from '../../helpers/stores.js';
import { current, fixture, living, PDS, withNhsNumber } from '../../helpers/pds-fixtures.js';
import {
  assertEchoedIds,
  assertPublishedError,
  assertPublishedRefusal,
  fill,
  published,
} from './karate.js';
import { NHS_NUMBER_SYSTEM } from '../../../src/fhir/identifiers.js';

const F = {
  get: 'patientAccess/getCoverageDetails.feature',
  getErrors: 'patientAccess/getCoverageDetailsErrors.feature',
  update: 'patientAccess/updateCoverageDetails.feature',
  updateErrors: 'patientAccess/updateCoverageDetailsErrors.feature',
  hcwGet: 'healthcareWorker/getCoverage.feature',
  hcwUpdate: 'healthcareWorker/updateCoverage.feature',
  appGet: 'appRestricted/getCoverage.feature',
  appUpdate: 'appRestricted/updateCoverage.feature',
};

/** The INT test patients the features name, by role in the scenarios. */
const P = {
  withCoverage: '9733162868',
  noCoverage: '9733162876',
  noPersonalId: '9733162884',
  updater: '9733162892',
  supersededRead: '9732019735',
  retained: '9732019638',
  supersededUpdate: '9732019840',
  noPatientObject: '9462978182',
  p5: '9912003072',
  hcwUpdate: '9733163031',
  hcwRead: '9693632109',
  appUpdate: '9733162825',
};

const PATIENT_DENIED = {
  display: 'Patient cannot perform this action',
  diagnostics:
    'Your access token has insufficient permissions. See documentation regarding Patient access restrictions https://digital.nhs.uk/developer/api-catalogue/personal-demographics-service-fhir',
};
const APP_DENIED =
  'Your app has insufficient permissions to use this operation. Please contact support.';
const INVALID_SEARCH =
  "Invalid search data provided - 'Coverage search request must follow the format /Coverage?subscriber:identifier=NHS_NUMBER'";

function patient(nhs: string, family: string, edit: (p: Patient) => void = () => {}): Patient {
  const p = living(current(withNhsNumber(fixture<Patient>('Patient.json'), nhs)));
  p.name![0].family = family;
  edit(p);
  return p;
}

const supersededBy = (survivor: string) => (p: Patient) => {
  p.link = [
    {
      type: 'replaced-by',
      other: {
        reference: `Patient/${survivor}`,
        identifier: { system: NHS_NUMBER_SYSTEM, value: survivor },
      } as never,
    },
  ];
};

/** A date some whole years ahead, as Karate's utils.randomDateWithInYears. */
function yearsAhead(years: number): string {
  const d = new Date();
  d.setUTCFullYear(d.getUTCFullYear() + years);
  return d.toISOString().slice(0, 10);
}

const stores = await storesUnderTest();
for (const kind of stores) {
  describe(`PDS Coverage, conformance with the published Karate features (${kind})`, () => {
    let platform: TestPlatform;
    const patientTokens = new Map<string, string>();

    async function patientToken(nhs: string, proofingLevel = 'P9'): Promise<string> {
      const key = `${nhs}/${proofingLevel}`;
      if (!patientTokens.has(key))
        patientTokens.set(
          key,
          await mintPatientToken(platform.key, {
            nhsNumber: nhs,
            audience: platform.config.audience,
            proofingLevel,
          }),
        );
      return patientTokens.get(key)!;
    }

    async function appToken(): Promise<string> {
      return mintApplicationToken(platform.key, {
        clientId: 'karate-app',
        name: 'App-restricted test app',
        org: 'A81001',
        scopes: ['pds.read', 'pds.search', 'pds.update'],
        audience: platform.config.audience,
      });
    }

    /** getCoverage.feature@getCoverageDetails: GET Coverage?subscriber:identifier=<nhs>. */
    function getCoverage(
      token: string | null,
      nhs: string,
      headers: Record<string, string> = {},
    ): Promise<LightMyRequestResponse> {
      return platform.request({
        url: `${PDS}/Coverage?subscriber:identifier=${nhs}`,
        token,
        headers,
      });
    }

    /** updateCoverage.feature@updateCoverageDetails: POST Coverage, Content-Type application/json, If-Match. */
    function updateCoverage(
      token: string | null,
      body: unknown,
      ifMatch: string | undefined,
      headers: Record<string, string> = {},
    ): Promise<LightMyRequestResponse> {
      return platform.request({
        method: 'POST',
        url: `${PDS}/Coverage`,
        token,
        body,
        contentType: 'application/json',
        headers: { ...(ifMatch ? { 'if-match': ifMatch } : {}), ...headers },
      });
    }

    const request = (
      name = 'update-patient-coverage-request.json',
      vars: Record<string, unknown> = {},
    ) => fill(published(`coverage/${name}`), { periodEndDate: yearsAhead(4), ...vars });

    before(async () => {
      platform = await startTestPlatform(kind);
      const patients = [
        patient(P.withCoverage, 'Coverage'),
        patient(P.noCoverage, 'Nocover'),
        patient(P.noPersonalId, 'Nopersonal'),
        patient(P.updater, 'Updater'),
        patient(P.retained, 'Retained'),
        patient(P.supersededRead, 'Retained', supersededBy(P.retained)),
        patient(P.supersededUpdate, 'Merged', supersededBy(P.retained)),
        patient(P.hcwUpdate, 'Worker'),
        patient(P.hcwRead, 'Reader'),
        patient(P.appUpdate, 'Application'),
      ];
      // the cards INT holds for them: 9733162868's as its published response shows it, one without a personal ID
      const stub = published('coverage/patient_with_coverage_9733162868.json').entry[0].resource;
      const card = (nhs: string, personalId: string) => ({
        nhsNumber: nhs,
        cardNumber: stub.identifier[0].value,
        country: stub.identifier[0].assigner.identifier.value,
        personalId,
        institutionId: stub.payor[0].identifier.value,
        expiry: stub.period.end,
      });
      const withoutPersonalId = coverageDocument(card(P.noPersonalId, 'X'), 1);
      delete (withoutPersonalId.beneficiary as { identifier?: unknown }).identifier;
      await platform.repo.commit({
        resources: [
          ...patients.map((p) => ({
            type: 'Patient',
            id: p.id!,
            expectedVersion: 0,
            resource: p as Record<string, any>,
            index: indexPatient(p),
          })),
          {
            type: COVERAGE,
            id: P.withCoverage,
            expectedVersion: 0,
            resource: coverageDocument(card(P.withCoverage, stub.beneficiary.identifier.value), 1),
            index: coverageIndex(P.withCoverage),
          },
          {
            type: COVERAGE,
            id: P.retained,
            expectedVersion: 0,
            resource: coverageDocument(card(P.retained, 'RET12345'), 1),
            index: coverageIndex(P.retained),
          },
          {
            type: COVERAGE,
            id: P.noPersonalId,
            expectedVersion: 0,
            resource: withoutPersonalId,
            index: coverageIndex(P.noPersonalId),
          },
        ],
      });
    });
    after(() => platform.close());

    /** patientCoverageBundle.json / patientCoverageResultEntry.json: the published shape of a Coverage answer. */
    function assertCoverageBundle(
      res: LightMyRequestResponse,
      subscriber: string | undefined,
    ): any {
      assert.equal(
        res.statusCode,
        res.statusCode >= 200 && res.statusCode < 300 ? res.statusCode : 200,
        res.body,
      );
      assert.match(String(res.headers['content-type']), /^application\/fhir\+json/);
      const body = res.json();
      assert.equal(body.resourceType, 'Bundle');
      assert.equal(body.type, 'searchset');
      assert.match(body.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00$/);
      assert.equal(typeof body.meta.versionId, 'string');
      assert.equal(res.headers.etag, `W/"${body.meta.versionId}"`);
      if (subscriber === undefined) {
        assert.equal(body.total, 0);
        assert.equal(body.entry, undefined);
        return body;
      }
      assert.equal(body.total, 1);
      const [entry] = body.entry;
      assert.equal(
        entry.fullUrl,
        `${platform.config.publicUrl}${PDS}/Coverage?subscriber:identifier=${subscriber}`,
      );
      const c = entry.resource;
      assert.deepEqual(Object.keys(c).sort(), [
        'beneficiary',
        'identifier',
        'payor',
        'period',
        'resourceType',
        'status',
        'subscriber',
      ]);
      assert.equal(c.resourceType, 'Coverage');
      assert.equal(c.status, 'active');
      assert.match(c.beneficiary.identifier.value, /^[0-9a-zA-Z\-,/:'. ]{1,25}$/);
      assert.equal(c.beneficiary.type, 'Patient');
      assert.match(c.identifier[0].value, /^[0-9a-zA-Z\-,/:'. ]{1,25}$/);
      assert.equal(typeof c.identifier[0].assigner.display, 'string');
      assert.match(c.identifier[0].assigner.identifier.value, /^[A-Z]{3}$/);
      assert.match(c.payor[0].identifier.value, /^[0-9a-zA-Z\-,/:'. ]{1,30}$/);
      assert.match(c.period.end, /^\d{4}-(0[1-9]|1[012])-(0[1-9]|[12]\d|3[01])$/);
      assert.deepEqual(c.subscriber, {
        identifier: { system: NHS_NUMBER_SYSTEM, value: subscriber },
        type: 'Patient',
      });
      return body;
    }

    // ---- patientAccess/getCoverageDetails.feature
    it(`${F.get}: Happy path - Retrieve patient coverage details`, async () => {
      const rid = randomUUID();
      const res = await getCoverage(await patientToken(P.withCoverage), P.withCoverage, {
        'x-request-id': rid,
      });
      assert.equal(res.statusCode, 200, res.body);
      assertEchoedIds(res, rid);
      const body = assertCoverageBundle(res, P.withCoverage);
      // the card is the one INT answers for this patient
      // (mocks/stubs/coverageResponses/patient_with_coverage_9733162868.json)
      assert.deepEqual(
        body.entry[0].resource,
        published('coverage/patient_with_coverage_9733162868.json').entry[0].resource,
      );
      assert.equal(body.entry[0].resource.identifier[0].assigner.display, 'Germany');
    });

    it(`${F.get}: Happy path - patient has no coverage details`, async () => {
      const res = await getCoverage(await patientToken(P.noCoverage), P.noCoverage);
      assert.equal(res.statusCode, 200, res.body);
      const body = assertCoverageBundle(res, undefined);
      assert.ok(body.meta.versionId);
      assert.ok(res.headers.etag);
    });

    it(`${F.get}: Retrieve patient current coverage details when superseded NHS number is sent`, async () => {
      const res = await getCoverage(await patientToken(P.supersededRead), P.supersededRead);
      assert.equal(res.statusCode, 200, res.body);
      const body = assertCoverageBundle(res, P.retained);
      assert.equal(body.entry[0].resource.subscriber.identifier.value, P.retained);
    });

    it(`${F.get}: Retrieve patient coverage details where personal identification number is not available(Beneficiary is a mandatory field in FHIR)`, async () => {
      const res = await getCoverage(await patientToken(P.noPersonalId), P.noPersonalId);
      assert.equal(res.statusCode, 200, res.body);
      const body = assertCoverageBundle(res, undefined);
      assert.ok(body.meta.versionId);
      assert.ok(res.headers.etag);
    });

    // ---- patientAccess/getCoverageDetailsErrors.feature
    for (const [headerValue, diagnostics] of [
      [undefined, 'Missing Authorization header'],
      ['Bearer', 'Missing access token'],
      ['Bearer abcdef123456789', 'Invalid Access Token'],
    ] as const) {
      it(`${F.getErrors}: Auth errors: patient coverage details (authorization '${headerValue ?? ''}')`, async () => {
        const res = await platform.request({
          url: `${PDS}/Coverage?subscriber:identifier=${P.noPersonalId}`,
          token: null,
          headers: headerValue ? { authorization: headerValue } : {},
        });
        assertPublishedError(res, 401, 'ACCESS_DENIED', {
          display: 'Access Denied - Unauthorised',
          diagnostics,
        });
      });
    }

    for (const [headerValue, diagnostics, errorResponse] of [
      [
        undefined,
        'Invalid request with error - X-Request-ID header must be supplied to access this resource',
        'MISSING_VALUE',
      ],
      ['1234', "Invalid value - '1234' in header 'X-Request-ID'", 'INVALID_VALUE'],
    ] as const) {
      it(`${F.getErrors}: x-request-id errors: patient coverage details (x-request-id '${headerValue ?? ''}')`, async () => {
        const token = await patientToken(P.noPersonalId);
        const headers: Record<string, string> = { authorization: `Bearer ${token}` };
        if (headerValue !== undefined) headers['x-request-id'] = headerValue;
        const res = await platform.app.inject({
          method: 'GET',
          url: `${PDS}/Coverage?subscriber:identifier=${P.noPersonalId}`,
          headers,
        });
        assertPublishedError(res, 400, errorResponse, { diagnostics });
      });
    }

    it(`${F.getErrors}: Identifier doesn't match nhs number of user`, async () => {
      const res = await getCoverage(await patientToken(P.noPersonalId), '9999999990');
      assertPublishedError(res, 403, 'ACCESS_DENIED', PATIENT_DENIED);
    });

    it(`${F.getErrors}: No search params provided`, async () => {
      const res = await platform.request({
        url: `${PDS}/Coverage`,
        token: await patientToken(P.noPersonalId),
      });
      assertPublishedError(res, 400, 'INVALID_SEARCH_DATA', { diagnostics: INVALID_SEARCH });
    });

    it(`${F.getErrors}: Additional invalid param`, async () => {
      const res = await platform.request({
        url: `${PDS}/Coverage?subscriber:identifier=9999999990&year=2003`,
        token: await patientToken(P.noPersonalId),
      });
      assertPublishedError(res, 400, 'INVALID_SEARCH_DATA', { diagnostics: INVALID_SEARCH });
      // the same with the patient's own number: the search's form is refused, not the patient
      const own = await platform.request({
        url: `${PDS}/Coverage?subscriber:identifier=${P.noPersonalId}&year=2003`,
        token: await patientToken(P.noPersonalId),
      });
      assertPublishedError(own, 400, 'INVALID_SEARCH_DATA', { diagnostics: INVALID_SEARCH });
    });

    it(`${F.getErrors}: Patient that don't have corresponding patient objects`, async () => {
      const res = await getCoverage(await patientToken(P.noPatientObject), P.noPatientObject);
      assertPublishedError(res, 404, 'RESOURCE_NOT_FOUND');
    });

    // ---- healthcareWorker/getCoverage.feature, appRestricted/getCoverage.feature
    it(`${F.hcwGet}: Fail to retrieve a Coverage resource`, async () => {
      const res = await getCoverage(await platform.token('R8000'), P.hcwRead);
      assertPublishedRefusal(res, 403, 'ACCESS_DENIED', {
        display: 'Cannot GET resource with user-restricted access token',
        diagnostics: APP_DENIED,
      });
    });

    it(`${F.appGet}: Fail to retrieve a Coverage resource with application-restricted users`, async () => {
      const res = await getCoverage(await appToken(), '9999999999');
      assertPublishedRefusal(res, 403, 'ACCESS_DENIED', {
        display: 'Cannot GET resource with application-restricted access token',
        diagnostics: APP_DENIED,
      });
    });

    // ---- patientAccess/updateCoverageDetails.feature
    it(`${F.update}: Happy path - update patient coverage details`, async () => {
      const token = await patientToken(P.updater);
      const read = await getCoverage(token, P.updater);
      assert.equal(read.statusCode, 200, read.body);
      const originalVersion = Number(read.json().meta.versionId);
      const periodEndDate = yearsAhead(4);
      const rid = randomUUID();
      const res = await updateCoverage(
        token,
        request(undefined, { nhsNumber: P.updater, periodEndDate }),
        read.headers.etag as string,
        { 'x-request-id': rid },
      );
      assert.equal(res.statusCode, 201, res.body);
      assertEchoedIds(res, rid);
      const body = assertCoverageBundle(res, P.updater);
      assert.equal(Number(body.meta.versionId), originalVersion + 1);
      assert.equal(body.entry[0].resource.status, 'active');
      assert.equal(body.entry[0].resource.period.end, periodEndDate);
      assert.deepEqual(body.entry[0].resource.payor, [
        { identifier: { value: "01071 - CPAM de l'ARDECH" } },
      ]);
      // stored: a new read returns the card and the record's new version, which a Patient read shares
      const again = await getCoverage(token, P.updater);
      assert.deepEqual(again.json().entry[0].resource, body.entry[0].resource);
      assert.equal(again.headers.etag, `W/"${originalVersion + 1}"`);
      const record = await platform.request({ url: `${PDS}/Patient/${P.updater}`, token });
      assert.equal(record.headers.etag, `W/"${originalVersion + 1}"`);
    });

    // ---- patientAccess/updateCoverageDetailsErrors.feature
    it(`${F.updateErrors}: Patient can't retrieve coverage details when P5`, async () => {
      const res = await updateCoverage(
        await patientToken(P.p5, 'P5'),
        request(undefined, { nhsNumber: P.p5 }),
        'W/"4"',
      );
      assertPublishedError(res, 403, 'ACCESS_DENIED', PATIENT_DENIED);
    });

    for (const [headerValue, diagnostics] of [
      [undefined, 'Missing Authorization header'],
      ['Bearer', 'Missing access token'],
      ['Bearer abcdef123456789', 'Invalid Access Token'],
    ] as const) {
      it(`${F.updateErrors}: Auth errors: update patient coverage details (authorization '${headerValue ?? ''}')`, async () => {
        const res = await updateCoverage(
          null,
          request(undefined, { nhsNumber: P.withCoverage }),
          'W/"4"',
          headerValue ? { authorization: headerValue } : {},
        );
        assertPublishedError(res, 401, 'ACCESS_DENIED', {
          display: 'Access Denied - Unauthorised',
          diagnostics,
        });
      });
    }

    for (const [headerValue, diagnostics, errorResponse] of [
      [
        undefined,
        'Invalid request with error - X-Request-ID header must be supplied to access this resource',
        'MISSING_VALUE',
      ],
      ['1234', "Invalid value - '1234' in header 'X-Request-ID'", 'INVALID_VALUE'],
    ] as const) {
      it(`${F.updateErrors}: x-request-id errors: update patient coverage details (x-request-id '${headerValue ?? ''}')`, async () => {
        const headers: Record<string, string> = {
          authorization: `Bearer ${await patientToken(P.withCoverage)}`,
          'content-type': 'application/json',
          'if-match': 'W/"4"',
        };
        if (headerValue !== undefined) headers['x-request-id'] = headerValue;
        const res = await platform.app.inject({
          method: 'POST',
          url: `${PDS}/Coverage`,
          headers,
          payload: JSON.stringify(request(undefined, { nhsNumber: P.withCoverage })),
        });
        assertPublishedError(res, 400, errorResponse, { diagnostics });
      });
    }

    it(`${F.updateErrors}: Incorrect resource version to update coverage`, async () => {
      const token = await patientToken(P.updater);
      const read = await getCoverage(token, P.updater);
      const originalVersion = Number(read.json().meta.versionId);
      const res = await updateCoverage(
        token,
        request(undefined, { nhsNumber: P.updater }),
        `W/"${originalVersion - 1}"`,
      );
      assertPublishedError(res, 409, 'RESOURCE_VERSION_MISMATCH');
      const unchanged = await getCoverage(token, P.updater);
      assert.equal(unchanged.json().meta.versionId, String(originalVersion));
    });

    it(`${F.updateErrors}: Missing If-Match header to update coverage`, async () => {
      const res = await updateCoverage(
        await patientToken(P.updater),
        request(undefined, { nhsNumber: P.updater }),
        undefined,
      );
      assertPublishedError(res, 412, 'PRECONDITION_FAILED', {
        diagnostics:
          'Invalid request with error - If-Match header must be supplied to update this resource',
      });
    });

    const invalidBodies: [string, string, string, string][] = [
      [
        'Missing personal id number in the request body',
        'update-patient-coverage-request-missing-beneficiary-identifier-value.json',
        'MISSING_VALUE',
        "Missing value - 'beneficiary/identifier/value'",
      ],
      [
        'Missing Identification number of the institution in the request body',
        'update-patient-coverage-request-missing-cardnumber.json',
        'MISSING_VALUE',
        "Missing value - 'identifier/0/value'",
      ],
      [
        'Send empty field in the request body',
        'update-patient-coverage-reques-empty-value-institution-id.json',
        'INVALID_VALUE',
        "Invalid value - '' in field 'payor/0/identifier/value'",
      ],
      [
        'Too many values in the request body',
        'update-patient-coverage-request-too-many-payors.json',
        'TOO_MANY_VALUES_SUBMITTED',
        "Too many values submitted - [{'identifier': {'value': 'DE98765'}}, {'identifier': {'value': 'FR98765'}}] in field 'payor'",
      ],
    ];
    for (const [scenario, file, error, diagnostics] of invalidBodies) {
      it(`${F.updateErrors}: ${scenario}`, async () => {
        const token = await patientToken(P.updater);
        const read = await getCoverage(token, P.updater);
        const res = await updateCoverage(
          token,
          request(file, { nhsNumber: P.updater }),
          read.headers.etag as string,
        );
        assertPublishedError(res, 400, error, { diagnostics });
        assert.equal(
          (await getCoverage(token, P.updater)).headers.etag,
          read.headers.etag,
          'nothing was written',
        );
      });
    }

    it(`${F.updateErrors}: Period end date must be less than 150 years in the past or in the future in the request body`, async () => {
      const token = await patientToken(P.updater);
      const read = await getCoverage(token, P.updater);
      const res = await updateCoverage(
        token,
        request(undefined, { nhsNumber: P.updater, periodEndDate: '1860-12-15' }),
        read.headers.etag as string,
      );
      assertPublishedError(res, 400, 'INVALID_VALUE', {
        diagnostics: "Invalid value - '1860-12-15' in field 'period/end'",
      });
    });

    it(`${F.updateErrors}: Patient that don't have corresponding patient objects`, async () => {
      const res = await updateCoverage(
        await patientToken(P.noPatientObject),
        request(undefined, { nhsNumber: P.noPatientObject }),
        'W/"4"',
      );
      assertPublishedError(res, 404, 'RESOURCE_NOT_FOUND');
    });

    it(`${F.updateErrors}: Send an update for superseded NHS number(authenticate and send update with superseded NHS number)`, async () => {
      const token = await patientToken(P.supersededUpdate);
      const read = await getCoverage(token, P.supersededUpdate);
      assert.equal(read.statusCode, 200, read.body);
      const res = await updateCoverage(
        token,
        request(undefined, { nhsNumber: P.supersededUpdate }),
        read.headers.etag as string,
      );
      assertPublishedError(res, 403, 'FORBIDDEN_UPDATE', {
        diagnostics:
          'Forbidden update with error - Update Failed - NHS No. supplied has been superseded in a merge',
      });
    });

    it(`${F.updateErrors}: Send an update for retained NHS number by authenticating with superseded NHS number`, async () => {
      const token = await patientToken(P.supersededRead);
      const read = await getCoverage(token, P.supersededRead);
      assert.equal(read.statusCode, 200, read.body);
      const res = await updateCoverage(
        token,
        request(undefined, { nhsNumber: P.retained }),
        read.headers.etag as string,
      );
      assertPublishedError(res, 403, 'ACCESS_DENIED', PATIENT_DENIED);
    });

    // ---- healthcareWorker/updateCoverage.feature, appRestricted/updateCoverage.feature (via
    // common/appRestrictedAndPriviledgedAccess/updateCoverage.feature@accessDenied)
    it(`${F.hcwUpdate}: Fail to update a Coverage resource`, async () => {
      const token = await platform.token('R8000');
      const record = await platform.request({ url: `${PDS}/Patient/${P.hcwUpdate}`, token });
      assert.equal(record.statusCode, 200, record.body);
      const res = await updateCoverage(
        token,
        request(undefined, { nhsNumber: P.hcwUpdate, periodEndDate: yearsAhead(2) }),
        record.headers.etag as string,
      );
      assertPublishedRefusal(res, 403, 'ACCESS_DENIED', {
        display: 'Cannot POST resource with user-restricted access token',
        diagnostics: APP_DENIED,
      });
    });

    it(`${F.appUpdate}: Fail to update a Coverage resource`, async () => {
      const token = await appToken();
      const record = await platform.request({ url: `${PDS}/Patient/${P.appUpdate}`, token });
      assert.equal(record.statusCode, 200, record.body);
      const res = await updateCoverage(
        token,
        request(undefined, { nhsNumber: P.appUpdate }),
        record.headers.etag as string,
      );
      assertPublishedRefusal(res, 403, 'ACCESS_DENIED', {
        display: 'Cannot POST resource with application-restricted access token',
        diagnostics: APP_DENIED,
      });
    });

    // ---- OpenSpine's own: the write is one commit, audited, and retried safely under its X-Request-ID
    it('OpenSpine: a Coverage update retried under its X-Request-ID is answered as before and applied once; the id on another body is refused', async () => {
      const token = await patientToken(P.noCoverage);
      const read = await getCoverage(token, P.noCoverage);
      const version = Number(read.json().meta.versionId);
      const rid = randomUUID();
      const body = request(undefined, { nhsNumber: P.noCoverage });
      const first = await updateCoverage(token, body, read.headers.etag as string, {
        'x-request-id': rid,
      });
      assert.equal(first.statusCode, 201, first.body);
      const retry = await updateCoverage(token, body, read.headers.etag as string, {
        'x-request-id': rid,
      });
      assert.equal(retry.statusCode, 201, retry.body);
      assert.deepEqual(
        { ...(retry.json() as object), timestamp: 0 },
        { ...(first.json() as object), timestamp: 0 },
      );
      assert.equal(
        (await getCoverage(token, P.noCoverage)).json().meta.versionId,
        String(version + 1),
      );
      const other = await updateCoverage(
        token,
        request(undefined, { nhsNumber: P.noCoverage, periodEndDate: yearsAhead(3) }),
        `W/"${version + 1}"`,
        { 'x-request-id': rid },
      );
      assert.equal(other.statusCode, 400, other.body);
      const history = await platform.repo.history(COVERAGE, P.noCoverage);
      assert.equal(history.length, 1);
      const audit = await platform.repo.audit.readAudit(0, 100_000);
      assert.equal(
        audit.filter(
          (e) =>
            e.record.action === 'pds.coverage.update' &&
            e.record.patient === P.noCoverage &&
            e.record.outcome === 'success',
        ).length,
        1,
      );
    });
  });
}
