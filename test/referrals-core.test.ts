/**
 * The e-Referral Service's first slice on both stores, driven through the whole platform:
 * $ers.createReferral -> ReferralRequest/{ubrn} -> _history/{version} -> $ers.cancelReferral -> an
 * illegal second cancel; the published request headers and their refusals in eRS's STU3
 * OperationOutcome; unknown UBRNs and patients; malformed bodies (4xx, never 500); X-Request-ID
 * replay; UBRNs never shared by concurrent creates. Request bodies are the published sandbox
 * examples in test/fixtures/ers/published/ (see SOURCES.md).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import type { DeliveredMessage } from '../src/messaging/types.js';
import {
  commitPatients,
  currentJane,
  NHS,
  repoRoot,
  withNhsNumber,
} from './helpers/pds-fixtures.js';
import { spineCode, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import { ersProfileFields, type ErsProfile } from '../src/services/directory/index.js';

const BASE = '/referrals/FHIR/STU3/ReferralRequest';
const ORG = 'A81001';
const OTHER_ORG = 'B82001';
/** The patient the published createReferral examples name. */
const PUBLISHED_PATIENT = '9912003888';
const CLOSED_SERVICE = '77001';
const CARDIOLOGY: ErsProfile = {
  specialty: 'CARDIOLOGY',
  clinicTypes: ['HEART_FAILURE'],
  flow: 'BOOKABLE',
  bookable: 'DIRECTLY_BOOKABLE',
  priorities: ['ROUTINE', 'URGENT'],
  adviceAndGuidance: false,
};
const ERS_PROFILE = 'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-OperationOutcome-1';
const ERS_CODES = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-APIErrorCode-1';

const published = (name: string): any =>
  JSON.parse(readFileSync(resolve(repoRoot, 'test/fixtures/ers/published', name), 'utf8'));

/**
 * The published minimal request. Its eReferralPathwayStart (2024-05-01) is now more than the
 * 365 days a011 allows, so this copy moves it to yesterday.
 */
function createBody(nhs = PUBLISHED_PATIENT): any {
  const body = published('createReferral-MinimalRequest.json');
  const param = (name: string) => body.parameter.find((p: any) => p.name === name);
  param('eReferralPathwayStart').valueInstant = new Date(Date.now() - 86_400_000).toISOString();
  param('patient').valueIdentifier.value = nhs;
  return body;
}

const stateOf = (referral: any): string =>
  referral.extension
    .find((e: any) => e.url.endsWith('Extension-eRS-ReferralState-1'))
    .extension.find((e: any) => e.url === 'state').valueCoding.code;

/** The eRS STU3 refusal shape, with its status and eRS error code. */
function assertErs(res: LightMyRequestResponse, status: number, code: string, issue?: string): any {
  assert.equal(res.statusCode, status, res.body);
  const outcome = res.json();
  assert.equal(outcome.resourceType, 'OperationOutcome');
  assert.deepEqual(outcome.meta.profile, [ERS_PROFILE]);
  assert.equal(outcome.issue[0].severity, 'error');
  assert.equal(outcome.issue[0].details.coding[0].system, ERS_CODES);
  assert.equal(outcome.issue[0].details.coding[0].code, code, res.body);
  if (issue) assert.equal(outcome.issue[0].code, issue);
  assert.ok(outcome.issue[0].diagnostics);
  return outcome;
}

for (const kind of await storesUnderTest()) {
  describe(`e-Referral Service core (${kind})`, () => {
    let platform: TestPlatform;
    let otherOrgToken: string;
    const events: DeliveredMessage[] = [];

    before(async () => {
      platform = await startTestPlatform(kind, {
        extraRoutes: (app) =>
          app.bus.consume(
            { name: 'test.ers-events', topics: ['ers.referral.*'], retryDelayMs: 10 },
            async (m) => {
              events.push(m);
            },
          ),
      });
      await commitPatients(platform.repo, [withNhsNumber(currentJane(), PUBLISHED_PATIENT)]);
      // the directory's services the published shortlists name (and one closed service)
      const ids = new Set<string>(
        ['createReferral-MinimalRequest.json', 'createReferral-RequestTwentyServices.json'].flatMap(
          (f) =>
            published(f)
              .parameter.find((p: any) => p.name === 'shortlist')
              .resource.entry.map((e: any) => e.item.identifier.value),
        ),
      );
      await platform.repo.commit({
        resources: [...ids, CLOSED_SERVICE].map((id) => ({
          type: 'HealthcareService',
          id,
          expectedVersion: 0,
          resource: {
            resourceType: 'HealthcareService',
            id,
            active: id !== CLOSED_SERVICE,
            name: id === '11002' ? 'Good Cardiology Business Service' : `Service ${id}`,
            // offered on e-RS: a shortlist names e-RS services only
            ...ersProfileFields(CARDIOLOGY),
          },
          index: [],
        })),
      });
      otherOrgToken = await platform.token('R8000', { org: OTHER_ORG, user: 'other-clinician' });
    });
    after(() => platform.close());

    const ers = (opts: {
      method?: string;
      url: string;
      body?: unknown;
      headers?: Record<string, string>;
      businessFunction?: string | null;
      ods?: string | null;
      token?: string;
    }) => {
      const headers: Record<string, string> = {};
      if (opts.businessFunction !== null)
        headers['nhsd-ers-business-function'] = opts.businessFunction ?? 'REFERRING_CLINICIAN';
      if (opts.ods !== null) headers['nhsd-end-user-organisation-ods'] = opts.ods ?? ORG;
      return platform.request({
        method: opts.method ?? 'GET',
        url: opts.url,
        body: opts.body,
        token: opts.token,
        headers: { ...headers, ...opts.headers },
      });
    };
    const create = (body: unknown = createBody(), extra: Parameters<typeof ers>[0] | object = {}) =>
      ers({ method: 'POST', url: `${BASE}/$ers.createReferral`, body, ...extra });
    const cancel = (ubrn: string, version: number, body: unknown, extra: object = {}) =>
      ers({
        method: 'POST',
        url: `${BASE}/${ubrn}/$ers.cancelReferral`,
        body,
        headers: { 'if-match': `W/"${version}"` },
        ...extra,
      });

    it('creates, reads, reads by version, cancels, and refuses a second cancel naming the state', async () => {
      const created = await create();
      assert.equal(created.statusCode, 201, created.body);
      const referral = created.json();
      const ubrn: string = referral.id;
      assert.match(ubrn, /^[0-9]{12}$/);
      assert.equal(created.headers.etag, 'W/"1"');
      assert.ok(String(created.headers.location).endsWith(`/ReferralRequest/${ubrn}/_history/1`));
      assert.equal(referral.resourceType, 'ReferralRequest');
      assert.equal(referral.meta.versionId, '1');
      assert.deepEqual(referral.meta.profile, [
        'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-ReferralRequest-1',
      ]);
      assert.equal(referral.status, 'active');
      assert.equal(referral.intent, 'plan');
      assert.deepEqual(referral.subject.identifier, {
        system: 'http://fhir.nhs.net/Id/nhs-number',
        value: PUBLISHED_PATIENT,
      });
      assert.equal(stateOf(referral), 'NOT_BOOKED');
      const shortlist = referral.contained.find((c: any) => c.id === 'shortlist');
      assert.equal(shortlist.entry[0].item.identifier.value, '11002');
      assert.equal(shortlist.entry[0].item.display, 'Good Cardiology Business Service');
      assert.ok(!JSON.stringify(referral).includes('openspine.dev'), 'internal extension hidden');

      const read = await ers({ url: `${BASE}/${ubrn}` });
      assert.equal(read.statusCode, 200, read.body);
      assert.deepEqual(read.json(), referral);
      const v1 = await ers({ url: `${BASE}/${ubrn}/_history/1` });
      assert.equal(v1.statusCode, 200, v1.body);
      assert.equal(stateOf(v1.json()), 'NOT_BOOKED');
      assertErs(await ers({ url: `${BASE}/${ubrn}/_history/2` }), 404, 'REC_NOT_FOUND');
      assertErs(await ers({ url: `${BASE}/${ubrn}/_history/x` }), 400, 'INVALID_VALUE');

      const cancelled = await cancel(ubrn, 1, published('cancelReferral-NoLongerRequired.json'));
      assert.equal(cancelled.statusCode, 200, cancelled.body);
      assert.equal(cancelled.headers.etag, 'W/"2"');
      const answer = cancelled.json();
      assert.equal(answer.resourceType, 'Parameters');
      const updated = answer.parameter.find(
        (p: any) => p.name === 'updatedReferralRequest',
      ).resource;
      assert.equal(updated.status, 'cancelled');
      assert.equal(updated.meta.versionId, '2');
      assert.equal(stateOf(updated), 'CANCELLED_REFERRAL');
      const state = updated.extension.find((e: any) => e.url.endsWith('ReferralState-1'));
      assert.equal(
        state.extension.find((e: any) => e.url === 'reason').valueCoding.code,
        'TREATMENT_NO_LONGER_REQUIRED',
      );

      const again = await cancel(ubrn, 2, published('cancelReferral-RaisedInError.json'));
      const outcome = assertErs(again, 422, 'INVALID_REQUEST_STATE', 'business-rule');
      assert.match(outcome.issue[0].diagnostics, /'CANCELLED_REFERRAL'/);
      const after2 = await ers({ url: `${BASE}/${ubrn}` });
      assert.equal(after2.json().meta.versionId, '2', 'the refused cancel changed nothing');
      assert.equal(
        stateOf((await ers({ url: `${BASE}/${ubrn}/_history/1` })).json()),
        'NOT_BOOKED',
      );

      // a stale If-Match on a live referral: 409, nothing changed
      const other = (await create()).json().id;
      assertErs(
        await cancel(other, 7, published('cancelReferral-RaisedInError.json')),
        409,
        'VERSION_MISMATCH',
      );
      const noIfMatch = await ers({
        method: 'POST',
        url: `${BASE}/${other}/$ers.cancelReferral`,
        body: published('cancelReferral-RaisedInError.json'),
      });
      assertErs(noIfMatch, 412, 'MISSING_VALUE');
      assert.equal((await ers({ url: `${BASE}/${other}` })).json().meta.versionId, '1');

      // every step audited against the patient, and the events published with the changes
      const audit = (await platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      for (const action of ['ers.referral.create', 'ers.referral.read', 'ers.referral.cancel'])
        assert.ok(
          audit.some((r) => r.action === action && r.patient === PUBLISHED_PATIENT),
          `audited: ${action}`,
        );
      for (let i = 0; i < 200 && !events.some((e) => e.topic === 'ers.referral.cancelled'); i++)
        await new Promise((r) => setTimeout(r, 25));
      const mine = events.filter((e) => (e.body as any).ubrn === ubrn);
      assert.deepEqual(
        mine.map((e) => e.topic),
        ['ers.referral.created', 'ers.referral.cancelled'],
      );
      assert.equal(mine[0].key, PUBLISHED_PATIENT);
    });

    it('refuses a business function that does not allow the operation, in eRS words', async () => {
      assertErs(
        await create(createBody(), { businessFunction: 'SERVICE_PROVIDER_CLINICIAN' }),
        403,
        'NO_ACCESS',
        'forbidden',
      );
      assertErs(await create(createBody(), { businessFunction: 'COMMISSIONER' }), 403, 'NO_ACCESS');
      assertErs(
        await create(createBody(), { businessFunction: 'NOT_A_FUNCTION' }),
        403,
        'NO_ACCESS',
      );
      const ubrn = (await create()).json().id;
      // a function that does not cancel at all
      assertErs(
        await cancel(ubrn, 1, published('cancelReferral-RaisedInError.json'), {
          businessFunction: 'SERVICE_PROVIDER_ADMIN',
        }),
        403,
        'NO_ACCESS',
      );
      // a provider function cancels only as a provider the referral was sent to (none yet)
      const asProvider = published('cancelReferral-RaisedInError.json');
      asProvider.parameter[0].valueCoding.code = 'BOOKED_OUTSIDE_CAB';
      assertErs(
        await cancel(ubrn, 1, asProvider, { businessFunction: 'SERVICE_PROVIDER_CLINICIAN' }),
        403,
        'NO_ACCESS',
      );
      // a role without the activity is refused by the platform's policy before the headers matter
      const student = await platform.token('R8004');
      const res = await create(createBody(), { token: student });
      assert.equal(res.statusCode, 403);
      assert.match(res.json().issue[0].diagnostics, /is not permitted to perform/);
    });

    it('refuses missing or invalid headers', async () => {
      assertErs(await create(createBody(), { ods: null }), 400, 'MISSING_HEADER', 'required');
      assertErs(
        await create(createBody(), { businessFunction: null }),
        400,
        'MISSING_HEADER',
        'required',
      );
      assertErs(await create(createBody(), { ods: '' }), 400, 'MISSING_HEADER');
      // an organisation other than the token's
      assertErs(await create(createBody(), { ods: OTHER_ORG }), 403, 'NO_ACCESS');
      const ubrn = (await create()).json().id;
      // On-Behalf-Of only with SERVICE_PROVIDER_CLINICIAN_ADMIN, and required with it
      assertErs(
        await ers({
          url: `${BASE}/${ubrn}`,
          headers: { 'nhsd-ers-on-behalf-of-user-id': '021600556514' },
        }),
        403,
        'NO_ACCESS',
      );
      assertErs(
        await ers({ url: `${BASE}/${ubrn}`, businessFunction: 'SERVICE_PROVIDER_CLINICIAN_ADMIN' }),
        400,
        'MISSING_HEADER',
      );
      assertErs(
        await create(createBody(), {
          headers: { 'nhsd-ers-on-behalf-of-user-id': '021600556514' },
        }),
        403,
        'NO_ACCESS',
      );
    });

    it('answers unknown and malformed UBRNs, and hides a referral from another organisation', async () => {
      assertErs(await ers({ url: `${BASE}/999999999999` }), 404, 'REC_NOT_FOUND', 'not-found');
      assertErs(await ers({ url: `${BASE}/12345` }), 400, 'INVALID_VALUE');
      assertErs(
        await cancel('999999999999', 1, published('cancelReferral-RaisedInError.json')),
        404,
        'REC_NOT_FOUND',
      );
      const ubrn = (await create()).json().id;
      const other = { token: otherOrgToken, ods: OTHER_ORG };
      assertErs(await ers({ url: `${BASE}/${ubrn}`, ...other }), 403, 'NO_ACCESS');
      assertErs(await ers({ url: `${BASE}/${ubrn}/_history/1`, ...other }), 403, 'NO_ACCESS');
      assertErs(
        await cancel(ubrn, 1, published('cancelReferral-RaisedInError.json'), other),
        403,
        'NO_ACCESS',
      );
      assert.equal((await ers({ url: `${BASE}/${ubrn}` })).json().meta.versionId, '1');
      const audit = (await platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      assert.ok(audit.some((r) => r.outcome === 'refused' && (r.detail as any)?.ubrn === ubrn));
    });

    it('answers an unknown patient as PDS does (404 RESOURCE_NOT_FOUND)', async () => {
      const res = await create(createBody(NHS.notFound));
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(spineCode(res), 'RESOURCE_NOT_FOUND');
    });

    it('refuses malformed bodies with a 4xx, never a 500', async () => {
      const without = (name: string) => {
        const b = createBody();
        b.parameter = b.parameter.filter((p: any) => p.name !== name);
        return b;
      };
      const withParam = (name: string, mutate: (p: any) => void) => {
        const b = createBody();
        mutate(b.parameter.find((p: any) => p.name === name));
        return b;
      };
      const twentyOne = published('createReferral-RequestTwentyServices.json');
      twentyOne.parameter.find((p: any) => p.name === 'patient').valueIdentifier.value =
        PUBLISHED_PATIENT;
      delete twentyOne.parameter.find((p: any) => p.name === 'eReferralPathwayStart')?.valueInstant;
      twentyOne.parameter = twentyOne.parameter.filter(
        (p: any) => p.name !== 'eReferralPathwayStart',
      );
      const list = twentyOne.parameter.find((p: any) => p.name === 'shortlist').resource;
      assert.equal(list.entry.length, 20, 'the published example holds the most services allowed');
      assert.equal((await create(twentyOne)).statusCode, 201, 'twenty services are accepted');
      list.entry.push({
        item: { identifier: { system: 'http://fhir.nhs.net/Id/ers-service', value: '99999' } },
      });
      assertErs(await create(twentyOne), 422, 'TOO_MANY_ITEMS');

      const cases: [string, unknown, string][] = [
        ['not Parameters', { resourceType: 'Patient' }, 'INVALID_FHIR_STRUCTURE'],
        ['an array', [], 'INVALID_FHIR_STRUCTURE'],
        ['null', null, 'INVALID_FHIR_STRUCTURE'],
        [
          'parameter not an array',
          { resourceType: 'Parameters', parameter: {} },
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'parameter holding null',
          { resourceType: 'Parameters', parameter: [null] },
          'INVALID_FHIR_STRUCTURE',
        ],
        ['no patient', without('patient'), 'MISSING_VALUE'],
        ['no shortlist', without('shortlist'), 'MISSING_VALUE'],
        [
          'an unknown parameter',
          {
            ...createBody(),
            parameter: [...createBody().parameter, { name: 'unknownParameter', valueString: 'x' }],
          },
          'UNEXPECTED_FIELD',
        ],
        ['an invalid NHS Number', createBody(NHS.invalid), 'INVALID_VALUE'],
        [
          'a patient of another system',
          withParam('patient', (p) => (p.valueIdentifier.system = 'urn:x')),
          'INVALID_VALUE',
        ],
        [
          'a patient without an identifier',
          withParam('patient', (p) => delete p.valueIdentifier),
          'INVALID_VALUE',
        ],
        [
          'a shortlist that is no List',
          withParam('shortlist', (p) => (p.resource = { resourceType: 'Bundle' })),
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'an empty shortlist',
          withParam('shortlist', (p) => (p.resource.entry = [])),
          'MISSING_VALUE',
        ],
        [
          'a shortlist entry with no service',
          withParam('shortlist', (p) => (p.resource.entry = [{}])),
          'INVALID_VALUE',
        ],
        [
          'a service twice',
          withParam('shortlist', (p) => p.resource.entry.push(p.resource.entry[0])),
          'DUPLICATE_SERVICE',
        ],
        [
          'a pathway start too old',
          withParam('eReferralPathwayStart', (p) => (p.valueInstant = '2020-01-01T00:00:00.000Z')),
          'INAPPROPRIATE_VALUE',
        ],
        [
          'a pathway start in the future',
          withParam('eReferralPathwayStart', (p) => (p.valueInstant = '2999-01-01T00:00:00.000Z')),
          'INAPPROPRIATE_VALUE',
        ],
        [
          'a pathway start that is no instant',
          withParam('eReferralPathwayStart', (p) => (p.valueInstant = 42)),
          'INVALID_VALUE',
        ],
      ];
      for (const [what, body, code] of cases) {
        const res = await create(body);
        assert.ok(
          res.statusCode >= 400 && res.statusCode < 500,
          `${what}: ${res.statusCode} ${res.body}`,
        );
        assertErs(res, res.statusCode, code);
      }
      const naming = (value: string) =>
        withParam('shortlist', (p) => (p.resource.entry[0].item.identifier.value = value));
      assertErs(await create(naming('55555')), 422, 'REFERENCE_NOT_FOUND');
      assertErs(await create(naming(CLOSED_SERVICE)), 422, 'INAPPROPRIATE_VALUE');
      assertErs(await create(naming('x'.repeat(65))), 422, 'INVALID_VALUE');
      const notJson = await create('{"resourceType": "Parameters", ');
      assert.ok(notJson.statusCode >= 400 && notJson.statusCode < 500, notJson.body);

      const ubrn = (await create()).json().id;
      const reason = (code: unknown) => ({
        resourceType: 'Parameters',
        parameter: [
          {
            name: 'cancellationReason',
            valueCoding: { system: '_baseurl_/STU3/CodeSystem/REFERRAL-CANCELLATION-REASON', code },
          },
        ],
      });
      const cancelCases: [string, unknown, string][] = [
        ['no reason', { resourceType: 'Parameters', parameter: [] }, 'MISSING_VALUE'],
        ['an unknown reason', reason('BECAUSE'), 'INVALID_CODE'],
        ['a provider-only reason', reason('TRIAGE_ENDED'), 'INVALID_CODE'],
        ['a reason of the wrong type', reason(7), 'INVALID_CODE'],
        // the published code system marks this reason commentIsMandatory
        [
          'a reason needing comments, without',
          reason('PATIENT_REQUEST_CANCELLATION_OTHER'),
          'MISSING_VALUE',
        ],
        [
          'a reason needing comments, with blank ones',
          {
            ...reason('PATIENT_REQUEST_CANCELLATION_OTHER'),
            parameter: [
              ...reason('PATIENT_REQUEST_CANCELLATION_OTHER').parameter,
              { name: 'cancellationComments', valueString: '  ' },
            ],
          },
          'MISSING_VALUE',
        ],
        [
          'a comment that is no string',
          {
            ...reason('RAISED_IN_ERROR'),
            parameter: [
              ...reason('RAISED_IN_ERROR').parameter,
              { name: 'cancellationComments', valueString: 5 },
            ],
          },
          'INVALID_VALUE',
        ],
        [
          'an unknown parameter',
          {
            ...reason('RAISED_IN_ERROR'),
            parameter: [...reason('RAISED_IN_ERROR').parameter, { name: 'x' }],
          },
          'UNEXPECTED_FIELD',
        ],
        ['not Parameters', 'plain', 'INVALID_FHIR_STRUCTURE'],
      ];
      for (const [what, body, code] of cancelCases) {
        const res = await cancel(ubrn, 1, body);
        assert.ok(
          res.statusCode >= 400 && res.statusCode < 500,
          `${what}: ${res.statusCode} ${res.body}`,
        );
        if (what !== 'not Parameters') assertErs(res, res.statusCode, code);
      }
      assertErs(
        await ers({
          method: 'POST',
          url: `${BASE}/${ubrn}/$ers.cancelReferral`,
          body: published('cancelReferral-RaisedInError.json'),
          headers: { 'if-match': '"1"' },
        }),
        412,
        'INVALID_VALUE',
      );
      assert.equal((await ers({ url: `${BASE}/${ubrn}` })).json().meta.versionId, '1');
    });

    it('answers an X-Request-ID retry as before, and refuses the id for another request', async () => {
      const requestId = randomUUID();
      const body = createBody();
      const before = await platform.repo.count('ReferralRequest');
      const first = await create(body, { headers: { 'x-request-id': requestId } });
      assert.equal(first.statusCode, 201, first.body);
      const retry = await create(body, { headers: { 'x-request-id': requestId } });
      assert.equal(retry.statusCode, 201, retry.body);
      assert.equal(retry.json().id, first.json().id);
      assert.equal(retry.headers.etag, first.headers.etag);
      assert.equal(
        await platform.repo.count('ReferralRequest'),
        before + 1,
        'the retry created no second referral',
      );
      const next = (await create()).json().id;
      assert.notEqual(next, first.json().id);
      const reuse = await create(createBody(NHS.jane), { headers: { 'x-request-id': requestId } });
      assert.equal(reuse.statusCode, 400, reuse.body);

      const cancelId = randomUUID();
      const reason = published('cancelReferral-RaisedInError.json');
      const once = await cancel(next, 1, reason, {
        headers: { 'if-match': 'W/"1"', 'x-request-id': cancelId },
      });
      assert.equal(once.statusCode, 200, once.body);
      const twice = await cancel(next, 1, reason, {
        headers: { 'if-match': 'W/"1"', 'x-request-id': cancelId },
      });
      assert.equal(twice.statusCode, 200, twice.body);
      assert.deepEqual(twice.json().parameter[0].resource.meta.versionId, '2');
    });

    it('never gives two concurrent creates the same UBRN', async () => {
      const answers = await Promise.all(Array.from({ length: 12 }, () => create()));
      for (const res of answers) assert.equal(res.statusCode, 201, res.body);
      const ubrns = answers.map((res) => res.json().id);
      assert.equal(new Set(ubrns).size, ubrns.length, `distinct UBRNs: ${ubrns.join(', ')}`);
      for (const ubrn of ubrns)
        assert.equal((await ers({ url: `${BASE}/${ubrn}` })).statusCode, 200);
    });
  });
}
