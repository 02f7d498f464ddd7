/**
 * The e-Referral Service's R4 API on both stores, through the whole platform: HealthcareService
 * read (a033), its version by HEAD (a037), search by _id (a035) over the directory's services with
 * an e-RS profile; the caller's business functions (a030) and the users a
 * SERVICE_PROVIDER_CLINICIAN_ADMIN may act for (a040); refusals as NHSDigital-OperationOutcomes
 * (headers as the live proxy words them on an R4 path); the CapabilityStatements of the STU3 and
 * R4 APIs against the routes actually registered. Published examples in
 * test/fixtures/ers/published/ (SOURCES.md) give the shapes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import {
  buildHealthcareService,
  indexHealthcareService,
  type ErsProfile,
} from '../src/services/directory/index.js';
import {
  buildPractitionerRole,
  indexPractitionerRole,
} from '../src/services/directory/practitioner-role-model.js';
import { ERS_BUSINESS_FUNCTIONS, roleAllows } from '../src/security/policy.js';
import { repoRoot } from './helpers/pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const R4 = '/referrals/FHIR/R4';
const STU3 = '/referrals/FHIR/STU3';
const ORG = 'A81001';
const HTTP_CODES = 'https://fhir.nhs.uk/CodeSystem/http-error-codes';
const APIM_CODES = 'https://fhir.nhs.uk/CodeSystem/NHSD-API-ErrorOrWarningCode';
const FUNCTION_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/eRS-BusinessFunction-1';

const published = (name: string): any =>
  JSON.parse(readFileSync(resolve(repoRoot, 'test/fixtures/ers/published', name), 'utf8'));

const BOOKABLE: ErsProfile = {
  specialty: 'CARDIOLOGY',
  clinicTypes: ['HEART_FAILURE'],
  flow: 'BOOKABLE',
  bookable: 'DIRECTLY_BOOKABLE',
  priorities: ['ROUTINE', 'URGENT'],
  adviceAndGuidance: false,
};
const TRIAGE: ErsProfile = {
  specialty: 'DERMATOLOGY',
  clinicTypes: [],
  flow: 'TRIAGE',
  priorities: ['ROUTINE'],
  adviceAndGuidance: true,
};

/** An R4 refusal: status, NHSDigital-OperationOutcome shape, coding system and code. */
function assertR4(
  res: LightMyRequestResponse,
  status: number,
  system: string,
  code: string,
  issue?: string,
): any {
  assert.equal(res.statusCode, status, res.body);
  assert.match(String(res.headers['content-type']), /application\/fhir\+json/);
  const outcome = res.json();
  assert.equal(outcome.resourceType, 'OperationOutcome');
  assert.ok(outcome.meta.lastUpdated, 'meta.lastUpdated (required by NHSDigital-OperationOutcome)');
  assert.equal(outcome.issue[0].severity, 'error');
  assert.deepEqual(outcome.issue[0].details.coding, [{ system, code }]);
  if (issue) assert.equal(outcome.issue[0].code, issue);
  assert.ok(outcome.issue[0].diagnostics);
  return outcome;
}

/** The published R4 outcome examples have exactly these fields (a refusal of ours may add a profile). */
function assertPublishedOutcomeShape(outcome: any, example: any): void {
  assert.deepEqual(
    Object.keys(outcome).sort(),
    Object.keys(example).sort(),
    'the published outcome fields',
  );
  assert.deepEqual(Object.keys(outcome.issue[0]).sort(), Object.keys(example.issue[0]).sort());
}

for (const kind of await storesUnderTest()) {
  describe(`e-Referral Service R4 (${kind})`, () => {
    let platform: TestPlatform;
    const ids = { bookable: 'ers-bookable-1', triage: 'ers-triage-1', plain: 'gp-services-1' };

    before(async () => {
      // a route registered after the service's own, before the app is ready: the statements must list it
      platform = await startTestPlatform(kind, {
        extraRoutes: (app) => {
          app.get('/referrals/FHIR/R4/Probe/:id', { config: { public: true } }, async () => ({}));
        },
      });
      const service = (id: string, name: string, ers?: ErsProfile, extra: object = {}) => {
        const doc = buildHealthcareService({
          id,
          org: 'R69',
          name,
          types: ['outpatients'],
          active: true,
          endpoints: [],
          ers,
          ...extra,
        });
        return {
          type: 'HealthcareService',
          id,
          expectedVersion: 0,
          resource: doc,
          index: indexHealthcareService(doc),
        };
      };
      const bookable = service(ids.bookable, 'Direct SVC 1', BOOKABLE, {
        comment: 'Instructions',
        telecom: [
          { system: 'phone', value: '01234567890' },
          { system: 'email', value: 'service@email.com' },
        ],
      });
      await platform.repo.commit({
        resources: [
          bookable,
          service(ids.triage, 'Dermatology Triage', TRIAGE),
          service(ids.plain, 'GP services'),
        ],
      });
      // a second version of the bookable service (its name changed)
      await platform.repo.commit({
        resources: [
          {
            ...bookable,
            expectedVersion: 1,
            resource: { ...bookable.resource, name: 'Direct SVC 1 (renamed)' },
          },
        ],
      });
      const role = (user: string, org: string, code: string, extra: object = {}) => {
        const doc = buildPractitionerRole({
          id: `${user}-${org}-${code}`,
          user,
          org,
          role: code,
          active: true,
          endpoints: [],
          ...extra,
        });
        return {
          type: 'PractitionerRole',
          id: doc.id!,
          expectedVersion: 0,
          resource: doc,
          index: indexPractitionerRole(doc),
        };
      };
      await platform.repo.commit({
        resources: [
          // the default test user (user-R8000) also works as an admin at R69
          role('user-R8000', 'R69', 'R8008'),
          // and held a role at R70 that has ended, and one at R71 no longer active
          role('user-R8000', 'R70', 'R8000', { period: { end: '2020-01-01' } }),
          role('user-R8000', 'R71', 'R8000', { active: false }),
          // clinicians and an admin at the test organisation (a040)
          role('spc-clinician', ORG, 'R8000'),
          role('spc-clinician-2', ORG, 'R8000'),
          role('admin-only', ORG, 'R8008'),
          role('elsewhere', 'R69', 'R8000'),
        ],
      });
    });
    after(() => platform.close());

    const ers = (opts: {
      method?: string;
      url: string;
      headers?: Record<string, string>;
      businessFunction?: string | null;
      ods?: string | null;
      token?: string | null;
    }) => {
      const headers: Record<string, string> = {};
      if (opts.businessFunction !== null)
        headers['nhsd-ers-business-function'] = opts.businessFunction ?? 'REFERRING_CLINICIAN';
      if (opts.ods !== null) headers['nhsd-end-user-organisation-ods'] = opts.ods ?? ORG;
      return platform.request({
        method: opts.method ?? 'GET',
        url: opts.url,
        token: opts.token,
        headers: { ...headers, ...opts.headers },
      });
    };

    it('a033 answers an e-RS service in the published eRS-HealthcareService shape, with its ETag', async () => {
      const res = await ers({ url: `${R4}/HealthcareService/${ids.bookable}` });
      assert.equal(res.statusCode, 200, res.body);
      assert.match(String(res.headers['content-type']), /application\/fhir\+json/);
      assert.equal(res.headers.etag, 'W/"2"');
      const service = res.json();
      const full = published('r4-getService-sampleServiceWithFullAttributes.json');
      // the published full example's fields, less `type` (eRS-AppointmentType: the directory has none)
      // and HoursOfOperation (nor hours), plus `active` (as in the published search example)
      assert.deepEqual(
        Object.keys(service).sort(),
        [...Object.keys(full).filter((k) => k !== 'type'), 'active'].sort(),
      );
      assert.equal(service.id, ids.bookable);
      assert.deepEqual(service.meta, { versionId: '2' });
      assert.equal(service.language, full.language);
      assert.equal(service.name, 'Direct SVC 1 (renamed)');
      assert.deepEqual(service.location, [
        { identifier: { system: full.location[0].identifier.system, value: 'R69' } },
      ]);
      // the request flow and bookable type codings exactly as published
      assert.deepEqual(service.characteristic, full.characteristic);
      const byUrl = (url: string) => service.extension.filter((e: any) => e.url === url);
      const instructions = full.extension.find((e: any) => e.url.endsWith('ServiceInstructions'));
      assert.deepEqual(byUrl(instructions.url), [instructions]);
      const [contact] = byUrl(
        'https://fhir.nhs.uk/StructureDefinition/Extension-eRS-HealthcareService-Contact',
      );
      const professionals = full.extension.find(
        (e: any) =>
          e.url.endsWith('HealthcareService-Contact') &&
          e.extension[0].valueCodeableConcept.coding[0].code === 'HEALTHCARE_PROFESSIONALS',
      );
      assert.deepEqual(contact.extension[0], professionals.extension[0]);
      assert.deepEqual(
        contact.extension.slice(1).map((e: any) => e.valueContactPoint),
        [
          { system: 'phone', value: '01234567890' },
          { system: 'email', value: 'service@email.com' },
        ],
      );
      assert.ok(!JSON.stringify(service).includes('openspine.dev'), 'no OpenSpine extension');

      const triage = (await ers({ url: `${R4}/HealthcareService/${ids.triage}` })).json();
      const minimal = published('r4-getService-sampleServiceWithMinimumAttributes.json');
      for (const key of Object.keys(minimal)) assert.ok(key in triage, `published field ${key}`);
      assert.deepEqual(
        triage.characteristic.map((c: any) => c.coding[0].code),
        ['REVIEW', 'ADVICE_AND_GUIDANCE'],
      );
      assert.equal(triage.extension, undefined, 'no extension without data for one');
    });

    it('a037 answers the current version in the ETag, with no body', async () => {
      const res = await ers({ method: 'HEAD', url: `${R4}/HealthcareService/${ids.bookable}` });
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers.etag, 'W/"2"');
      assert.equal(res.body, '');
      const triage = await ers({ method: 'HEAD', url: `${R4}/HealthcareService/${ids.triage}` });
      assert.equal(triage.headers.etag, 'W/"1"');
      const unknown = await ers({ method: 'HEAD', url: `${R4}/HealthcareService/no-such` });
      assert.equal(unknown.statusCode, 404);
      const refused = await ers({
        method: 'HEAD',
        url: `${R4}/HealthcareService/${ids.bookable}`,
        businessFunction: 'SERVICE_PROVIDER_CLINICIAN',
      });
      assert.equal(refused.statusCode, 403);
    });

    it('a035 searches by _id as published: found services in order, unknown ids left out', async () => {
      const res = await ers({
        url: `${R4}/HealthcareService?_id=${ids.triage},no-such,${ids.bookable},${ids.plain}`,
      });
      assert.equal(res.statusCode, 200, res.body);
      const bundle = res.json();
      const example = published('r4-searchForServices-searchServiceWithMinmumalAttributes.json');
      assert.deepEqual(Object.keys(bundle).sort(), Object.keys(example).sort());
      assert.equal(bundle.type, 'searchset');
      assert.equal(bundle.total, 2);
      assert.deepEqual(
        bundle.entry.map((e: any) => e.resource.id),
        [ids.triage, ids.bookable],
      );
      for (const entry of bundle.entry) {
        assert.deepEqual(Object.keys(entry).sort(), Object.keys(example.entry[0]).sort());
        assert.ok(entry.fullUrl.endsWith(`${R4}/HealthcareService/${entry.resource.id}`));
        assert.deepEqual(entry.search, { mode: 'match' });
      }
      // the same answer as a033 for each service
      const read = (await ers({ url: `${R4}/HealthcareService/${ids.bookable}` })).json();
      assert.deepEqual(bundle.entry[1].resource, read);
      assert.equal(bundle.link[0].relation, 'self');

      const repeated = await ers({
        url: `${R4}/HealthcareService?_id=${ids.bookable}&_id=${ids.triage}`,
      });
      assert.equal(repeated.json().total, 2);
      const none = await ers({ url: `${R4}/HealthcareService?_id=5,6` });
      const empty = published('r4-searchForServices-searchServiceWithEmptyResponse.json');
      assert.equal(none.statusCode, 200);
      assert.deepEqual(Object.keys(none.json()).sort(), Object.keys(empty).sort());
      assert.equal(none.json().total, 0);
    });

    it('a035 refuses bad query parameters with 400 REC_BAD_REQUEST, never a 500', async () => {
      const example = published('r4-NHSDigital-OperationOutcome-400.json');
      const tooMany = Array.from({ length: 21 }, (_, i) => `s${i}`).join(',');
      const bad = [
        '',
        '?name=Direct',
        `?_id=${ids.bookable}&name=x`,
        '?_id=',
        '?_id=a,,b',
        '?_id=bad%20id',
        `?_id=${'x'.repeat(65)}`,
        `?_id=${tooMany}`,
        '?_id=%00',
      ];
      for (const query of bad) {
        const res = await ers({ url: `${R4}/HealthcareService${query}` });
        assert.ok(res.statusCode >= 400 && res.statusCode < 500, `${query}: ${res.statusCode}`);
        if (query === '?_id=%00') continue; // refused by the platform's conventions first
        const outcome = assertR4(res, 400, HTTP_CODES, 'REC_BAD_REQUEST', 'invalid');
        assertPublishedOutcomeShape(outcome, example);
      }
      const twenty = Array.from({ length: 20 }, (_, i) => `s${i}`).join(',');
      assert.equal((await ers({ url: `${R4}/HealthcareService?_id=${twenty}` })).statusCode, 200);
    });

    it('answers unknown, non-e-RS and malformed service ids 404 REC_NOT_FOUND', async () => {
      const example = published('r4-NHSDigital-OperationOutcome-404.json');
      for (const id of ['no-such', ids.plain, 'bad%20id', 'x'.repeat(65)]) {
        const res = await ers({ url: `${R4}/HealthcareService/${id}` });
        assertPublishedOutcomeShape(
          assertR4(res, 404, HTTP_CODES, 'REC_NOT_FOUND', 'not-found'),
          example,
        );
      }
    });

    it('refuses a business function a033/a035/a037 do not publish, as the proxy does on R4', async () => {
      const urls = [`${R4}/HealthcareService/${ids.bookable}`, `${R4}/HealthcareService?_id=x`];
      for (const url of urls) {
        assert.equal(
          (await ers({ url, businessFunction: 'REFERRING_CLINICIAN_ADMIN' })).statusCode,
          200,
        );
        for (const businessFunction of [
          'SERVICE_PROVIDER_CLINICIAN',
          'SERVICE_PROVIDER_ADMIN',
          'COMMISSIONER',
          'NOT_A_FUNCTION',
        ]) {
          const outcome = assertR4(
            await ers({ url, businessFunction }),
            403,
            APIM_CODES,
            'ACCESS_DENIED',
            'forbidden',
          );
          assert.equal(
            outcome.issue[0].diagnostics,
            'User does not have the required Business Function at the specified Organisation.',
          );
          assert.deepEqual(outcome.meta.profile, [
            'https://www.hl7.org/fhir/R4/operationoutcome.html',
          ]);
        }
        // another organisation than the token's, and an On-Behalf-Of user with a referrer function
        assertR4(await ers({ url, ods: 'B82001' }), 403, APIM_CODES, 'ACCESS_DENIED');
        assertR4(
          await ers({ url, headers: { 'nhsd-ers-on-behalf-of-user-id': '021600556514' } }),
          403,
          APIM_CODES,
          'ACCESS_DENIED',
        );
      }
      // an admin role may not act as a REFERRING_CLINICIAN (ERS_FUNCTION_ROLES): a030 says so
      const admin = await platform.token('R8008', { user: 'an-admin' });
      const url = `${R4}/HealthcareService/${ids.bookable}`;
      assertR4(await ers({ url, token: admin }), 403, APIM_CODES, 'ACCESS_DENIED');
      assert.equal(
        (await ers({ url, token: admin, businessFunction: 'REFERRING_CLINICIAN_ADMIN' }))
          .statusCode,
        200,
      );
      // a role without the activity is refused by the platform's policy first
      const other = await ers({ url, token: await platform.token('R8003') });
      assert.equal(other.statusCode, 403);
      assert.match(other.json().issue[0].diagnostics, /is not permitted to perform/);
    });

    it('refuses missing headers with 400 MISSING_HEADER, as the proxy words it on R4', async () => {
      const url = `${R4}/HealthcareService/${ids.bookable}`;
      const noOds = assertR4(
        await ers({ url, ods: null }),
        400,
        APIM_CODES,
        'MISSING_HEADER',
        'required',
      );
      assert.equal(
        noOds.issue[0].diagnostics,
        'Missing or Empty NHSD-End-User-Organisation-ODS header.',
      );
      assertR4(await ers({ url, ods: '' }), 400, APIM_CODES, 'MISSING_HEADER');
      const noFunction = assertR4(
        await ers({ url: `${R4}/HealthcareService?_id=x`, businessFunction: null }),
        400,
        APIM_CODES,
        'MISSING_HEADER',
      );
      assert.match(noFunction.issue[0].diagnostics, /NHSD-eRS-Business-Function/);
      const noRequestId = await platform.request({
        url,
        headers: {
          'x-request-id': '',
          'nhsd-ers-business-function': 'REFERRING_CLINICIAN',
          'nhsd-end-user-organisation-ods': ORG,
        },
      });
      assert.equal(noRequestId.statusCode, 400);
    });

    it("a030 lists the caller's business functions per organisation, derived from its role profiles", async () => {
      const res = await ers({ url: `${R4}/PractitionerRole`, businessFunction: null, ods: null });
      assert.equal(res.statusCode, 200, res.body);
      const bundle = res.json();
      const example = published('r4-retrieveBusinessFunctions-PractitionerRoleBundle.json');
      assert.deepEqual(Object.keys(bundle).sort(), Object.keys(example).sort());
      assert.equal(bundle.type, 'searchset');
      const byOrg = Object.fromEntries(
        bundle.entry.map((e: any) => [
          e.resource.organization.identifier.value,
          e.resource.code.map((c: any) => c.coding[0].code),
        ]),
      );
      assert.deepEqual(byOrg, {
        // the token's R8000 at A81001: every function it may act in (ERS_FUNCTION_ROLES)
        [ORG]: [
          'REFERRING_CLINICIAN',
          'REFERRING_CLINICIAN_ADMIN',
          'REFERRING_ADMIN',
          'SERVICE_PROVIDER_CLINICIAN_ADMIN',
          'SERVICE_PROVIDER_CLINICIAN',
          'SERVICE_PROVIDER_ADMIN',
          'BOOKING_MANAGER',
        ],
        // the directory's R8008 at R69 (the ended R70 and inactive R71 roles are left out): the
        // admin functions, never a clinician's
        R69: [
          'REFERRING_CLINICIAN_ADMIN',
          'REFERRING_ADMIN',
          'SERVICE_PROVIDER_CLINICIAN_ADMIN',
          'SERVICE_PROVIDER_ADMIN',
          'BOOKING_MANAGER',
        ],
      });
      assert.equal(bundle.total, 2);
      for (const entry of bundle.entry) {
        const ex = example.entry[0];
        assert.deepEqual(Object.keys(entry).sort(), Object.keys(ex).sort());
        assert.deepEqual(Object.keys(entry.resource).sort(), Object.keys(ex.resource).sort());
        assert.deepEqual(entry.resource.practitioner, {
          identifier: { ...ex.resource.practitioner.identifier, value: 'user-R8000' },
        });
        assert.equal(
          entry.resource.organization.identifier.system,
          ex.resource.organization.identifier.system,
        );
        assert.equal(entry.resource.code[0].coding[0].system, FUNCTION_SYSTEM);
        const org = entry.resource.organization.identifier.value;
        assert.equal(entry.resource.id, `PractitionerRole-${org}-user-R8000`);
      }
      // what a030 lists, the routes accept: each listed function allows only what the role allows
      for (const code of byOrg[ORG])
        for (const activity of ERS_BUSINESS_FUNCTIONS[code])
          assert.ok(roleAllows('R8000', activity), `${code}: ${activity}`);
      // a student holds no e-RS function: an empty searchset, not a refusal
      const student = await ers({
        url: `${R4}/PractitionerRole`,
        token: await platform.token('R8004', { user: 'a-student' }),
      });
      assert.equal(student.statusCode, 200, student.body);
      assert.equal(student.json().total, 0);
      assert.equal(student.json().entry, undefined);
      // a030 publishes no query parameter
      assertR4(
        await ers({ url: `${R4}/PractitionerRole?user=someone-else` }),
        400,
        HTTP_CODES,
        'REC_BAD_REQUEST',
      );
    });

    it('a040 lists the SERVICE_PROVIDER_CLINICIANs a SERVICE_PROVIDER_CLINICIAN_ADMIN may act for', async () => {
      const spca = { businessFunction: 'SERVICE_PROVIDER_CLINICIAN_ADMIN' };
      const res = await ers({ url: `${R4}/Practitioner?_query=onBehalfOf`, ...spca });
      assert.equal(res.statusCode, 200, res.body);
      const bundle = res.json();
      const example = published('r4-retrieveOboUsers-PractitionerBundle.json');
      assert.deepEqual(Object.keys(bundle).sort(), Object.keys(example).sort());
      assert.deepEqual(
        bundle.entry.map((e: any) => e.resource.identifier),
        ['spc-clinician', 'spc-clinician-2'].map((value) => ({
          system: example.entry[0].resource.identifier.system,
          value,
        })),
      );
      assert.deepEqual(
        Object.keys(bundle.entry[0].resource).sort(),
        Object.keys(example.entry[0].resource).sort(),
      );
      for (const query of ['', '?_query=other', '?_query=onBehalfOf&x=1'])
        assertR4(
          await ers({ url: `${R4}/Practitioner${query}`, ...spca }),
          400,
          HTTP_CODES,
          'REC_BAD_REQUEST',
        );
      assertR4(
        await ers({ url: `${R4}/Practitioner?_query=onBehalfOf` }),
        403,
        APIM_CODES,
        'ACCESS_DENIED',
      );
      assertR4(
        await ers({ url: `${R4}/Practitioner?_query=onBehalfOf`, ...spca, ods: null }),
        400,
        APIM_CODES,
        'MISSING_HEADER',
      );
    });

    it('the R4 and STU3 CapabilityStatements list exactly the routes registered under each base', async () => {
      /** The routes of an API as (type, interaction or $operation), classified independently here. */
      const expected = (base: string) => {
        const out = new Set<string>();
        const unclassified: string[] = [];
        for (const r of platform.app.routeTable) {
          if (r.method === 'HEAD' || !r.url.startsWith(base + '/')) continue;
          const seg = r.url.slice(base.length + 1).split('/');
          if (seg[0] === 'metadata') continue;
          const op = seg.find((s) => s.startsWith('$'));
          const param = (s?: string) => s?.startsWith(':');
          if (op) out.add(`${seg[0]} ${op.slice(1)}`);
          else if (seg.length === 1)
            out.add(`${seg[0]} ${r.method === 'GET' ? 'search-type' : 'create'}`);
          else if (seg.length === 2 && param(seg[1]) && r.method === 'GET')
            out.add(`${seg[0]} read`);
          else if (seg.length === 2 && param(seg[1]) && r.method === 'PUT')
            out.add(`${seg[0]} update`);
          else if (seg.length === 4 && seg[2] === '_history' && r.method === 'GET')
            out.add(`${seg[0]} vread`);
          else unclassified.push(`${r.method} ${r.url}`);
        }
        assert.deepEqual(unclassified, [], 'every route is one the statement can list');
        return out;
      };
      const listed = (statement: any, stu3: boolean) => {
        const out = new Set<string>();
        const rest = statement.rest[0];
        for (const res of rest.resource ?? []) {
          for (const i of res.interaction ?? []) out.add(`${res.type} ${i.code}`);
          for (const o of res.operation ?? []) out.add(`${res.type} ${o.name}`);
        }
        if (stu3)
          for (const o of rest.operation ?? [])
            out.add(`${o.definition.reference.split('/').pop().split('-')[0]} ${o.name}`);
        return out;
      };

      const r4 = await platform.request({ url: `${R4}/metadata`, token: null });
      assert.equal(r4.statusCode, 200, r4.body);
      const r4Statement = r4.json();
      assert.equal(r4Statement.resourceType, 'CapabilityStatement');
      assert.equal(r4Statement.fhirVersion, '4.0.1');
      assert.deepEqual([...listed(r4Statement, false)].sort(), [...expected(R4)].sort());
      assert.ok(listed(r4Statement, false).has('Probe read'), 'a route registered later is listed');
      for (const mine of [
        'HealthcareService read',
        'HealthcareService search-type',
        'PractitionerRole search-type',
      ])
        assert.ok(listed(r4Statement, false).has(mine), mine);
      const hs = r4Statement.rest[0].resource.find((r: any) => r.type === 'HealthcareService');
      assert.deepEqual(
        hs.searchParam.map((p: any) => p.name),
        ['_id'],
      );

      const stu3 = await platform.request({ url: `${STU3}/metadata`, token: null });
      assert.equal(stu3.statusCode, 200, stu3.body);
      const stu3Statement = stu3.json();
      assert.equal(stu3Statement.fhirVersion, '3.0.1');
      assert.equal(stu3Statement.acceptUnknown, 'no');
      assert.deepEqual([...listed(stu3Statement, true)].sort(), [...expected(STU3)].sort());
      for (const mine of [
        'CodeSystem read',
        'ReferralRequest read',
        'ReferralRequest vread',
        'ReferralRequest ers.createReferral',
        'ReferralRequest ers.cancelReferral',
      ])
        assert.ok(listed(stu3Statement, true).has(mine), mine);
      // nothing of the R4 API in the STU3 statement, and no route of another API
      assert.ok(!listed(stu3Statement, true).has('PractitionerRole search-type'));
      assert.ok(!listed(r4Statement, false).has('ReferralRequest read'));
    });
  });
}
