/**
 * a004 (GET /referrals/FHIR/STU3/CodeSystem/{codeSystemType}) on both stores: each published code
 * system in the published shape (compared with the sandbox's answers in
 * test/fixtures/ers/published/getCodeSystem-*.json), the code systems built from the platform's own
 * rules agreeing with what the other operations accept (priorities with the directory's e-RS
 * profiles, referrer cancellation reasons with $ers.cancelReferral), and the refusals: unknown
 * names, query parameters, business functions a004 does not publish, missing headers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { ERS_PRIORITIES } from '../src/services/directory/index.js';
import {
  parseCancelReferral,
  REFERRER_CANCELLATION_REASONS,
} from '../src/services/referrals/referral-rules.js';
import { repoRoot } from './helpers/pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const BASE = '/referrals/FHIR/STU3/CodeSystem';
const ORG = 'A81001';
const ERS_PROFILE = 'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-OperationOutcome-1';
const ERS_CODES = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-APIErrorCode-1';

const published = (name: string): any =>
  JSON.parse(readFileSync(resolve(repoRoot, 'test/fixtures/ers/published', name), 'utf8'));

/** Each published codeSystemType and the sandbox's answer for it. */
const PUBLISHED: Record<string, string> = {
  SPECIALTY: 'getCodeSystem-SpecialtyCodeSystem.json',
  'APPOINTMENT-CANCELLATION-REASON': 'getCodeSystem-AppointmentCancellationReasonCodeSystem.json',
  'CLINIC-TYPE': 'getCodeSystem-ClinicTypeCodeSystem.json',
  'REFERRAL-CANCELLATION-REASON': 'getCodeSystem-ReferralCancellationReasonCodeSystem.json',
  'APPOINTMENT-NON-ATTENDANCE-REASON':
    'getCodeSystem-AppointmentNonAttendanceReasonCodeSystem.json',
  PRIORITY: 'getCodeSystem-PriorityCodeSystem.json',
};

function assertErs(res: LightMyRequestResponse, status: number, code: string, issue?: string): any {
  assert.equal(res.statusCode, status, res.body);
  const outcome = res.json();
  assert.equal(outcome.resourceType, 'OperationOutcome');
  assert.deepEqual(outcome.meta.profile, [ERS_PROFILE]);
  assert.equal(outcome.issue[0].details.coding[0].system, ERS_CODES);
  assert.equal(outcome.issue[0].details.coding[0].code, code, res.body);
  if (issue) assert.equal(outcome.issue[0].code, issue);
  return outcome;
}

/** The referrer functions a REFERRAL-CANCELLATION-REASON concept is marked with. */
const referrerFunctions = (concept: any): string[] =>
  concept.property
    .filter((p: any) => p.code === 'businessFunction')
    .map((p: any) => p.valueCoding.code)
    .filter((f: string) => f.startsWith('REFERRING_'));

for (const kind of await storesUnderTest()) {
  describe(`e-Referral Service reference data (${kind})`, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await startTestPlatform(kind);
    });
    after(() => platform.close());

    const get = (
      url: string,
      opts: {
        businessFunction?: string | null;
        ods?: string | null;
        headers?: Record<string, string>;
        token?: string;
      } = {},
    ) => {
      const headers: Record<string, string> = { ...opts.headers };
      if (opts.businessFunction !== null)
        headers['nhsd-ers-business-function'] = opts.businessFunction ?? 'REFERRING_CLINICIAN';
      if (opts.ods !== null) headers['nhsd-end-user-organisation-ods'] = opts.ods ?? ORG;
      return platform.request({ url, token: opts.token, headers });
    };

    it('answers every published code system in the published shape', async () => {
      const apiBase = platform.config.publicUrl + '/referrals/FHIR';
      for (const [name, file] of Object.entries(PUBLISHED)) {
        const res = await get(`${BASE}/${name}`);
        assert.equal(res.statusCode, 200, `${name}: ${res.body}`);
        assert.match(String(res.headers['content-type']), /application\/fhir\+json/);
        const cs = res.json();
        const example = published(file);
        assert.deepEqual(Object.keys(cs).sort(), Object.keys(example).sort(), name);
        assert.equal(cs.id, name);
        assert.equal(cs.url, `${apiBase}/STU3/CodeSystem/${name}`);
        for (const field of ['resourceType', 'name', 'meta', 'status', 'content', 'publisher'])
          assert.deepEqual(cs[field], example[field], `${name} ${field}`);
        assert.deepEqual(cs.property, example.property, `${name}: the published properties`);
        // the concepts as published (the sandbox's placeholder base is this server's)
        const concepts = JSON.parse(
          JSON.stringify(example.concept).replaceAll('_baseUrl_', apiBase),
        );
        assert.deepEqual(cs.concept, concepts, `${name}: the published concepts`);
      }
    });

    it('builds PRIORITY from the priorities an e-RS service may take', async () => {
      const cs = (await get(`${BASE}/PRIORITY`)).json();
      assert.deepEqual(
        cs.concept.map((c: any) => c.code),
        [...ERS_PRIORITIES],
      );
    });

    it('marks for referrers exactly the cancellation reasons $ers.cancelReferral accepts from them', async () => {
      const cs = (await get(`${BASE}/REFERRAL-CANCELLATION-REASON`)).json();
      const forReferrers = cs.concept
        .filter((c: any) => referrerFunctions(c).length)
        .map((c: any) => c.code);
      assert.deepEqual(forReferrers.sort(), [...REFERRER_CANCELLATION_REASONS].sort());
      const body = (code: string) => ({
        resourceType: 'Parameters',
        parameter: [
          { name: 'cancellationReason', valueCoding: { system: cs.url, code } },
          // some reasons need comments (commentIsMandatory): given, so only the reason decides
          { name: 'cancellationComments', valueString: 'Test comments' },
        ],
      });
      for (const concept of cs.concept) {
        const accepted = (() => {
          try {
            parseCancelReferral(body(concept.code), 'REFERRING_CLINICIAN');
            return true;
          } catch {
            return false;
          }
        })();
        assert.equal(
          accepted,
          referrerFunctions(concept).length > 0,
          `${concept.code}: the code system and the cancel rule agree`,
        );
      }
    });

    it('answers an unknown code system 404 REC_NOT_FOUND and refuses query parameters', async () => {
      for (const name of ['eRS-ReferralState-1', 'priority', 'NOPE', 'x'.repeat(90)])
        assertErs(await get(`${BASE}/${name}`), 404, 'REC_NOT_FOUND', 'not-found');
      // an over-long name is refused by the platform's router before the route (still a 4xx)
      const long = await get(`${BASE}/${'x'.repeat(300)}`);
      assert.equal(long.statusCode, 400, long.body);
      for (const query of ['?_format=json', '?version=1&x=2'])
        assertErs(await get(`${BASE}/PRIORITY${query}`), 400, 'INVALID_VALUE');
    });

    it('is read with the four business functions a004 publishes, and no other', async () => {
      for (const businessFunction of [
        'REFERRING_CLINICIAN',
        'REFERRING_CLINICIAN_ADMIN',
        'SERVICE_PROVIDER_CLINICIAN',
      ])
        assert.equal((await get(`${BASE}/SPECIALTY`, { businessFunction })).statusCode, 200);
      const spca = { businessFunction: 'SERVICE_PROVIDER_CLINICIAN_ADMIN' };
      assert.equal(
        (
          await get(`${BASE}/SPECIALTY`, {
            ...spca,
            headers: { 'nhsd-ers-on-behalf-of-user-id': '021600556514' },
          })
        ).statusCode,
        200,
      );
      assertErs(await get(`${BASE}/SPECIALTY`, spca), 400, 'MISSING_HEADER');
      // SERVICE_PROVIDER_ADMIN allows the activity but a004 does not publish it
      for (const businessFunction of ['SERVICE_PROVIDER_ADMIN', 'BOOKING_MANAGER', 'COMMISSIONER'])
        assertErs(
          await get(`${BASE}/SPECIALTY`, { businessFunction }),
          403,
          'NO_ACCESS',
          'forbidden',
        );
      // a role that holds the activity, naming a function it may not act in (an admin as a
      // referring clinician: ERS_FUNCTION_ROLES)
      const admin = await platform.token('R8008', { user: 'an-admin' });
      assertErs(
        await get(`${BASE}/SPECIALTY`, { token: admin, businessFunction: 'REFERRING_CLINICIAN' }),
        403,
        'NO_ACCESS',
      );
      assert.equal(
        (
          await get(`${BASE}/SPECIALTY`, {
            token: admin,
            businessFunction: 'REFERRING_CLINICIAN_ADMIN',
          })
        ).statusCode,
        200,
      );
      // a role without the activity: the platform's policy
      const student = await get(`${BASE}/SPECIALTY`, { token: await platform.token('R8004') });
      assert.equal(student.statusCode, 403);
      assert.match(student.json().issue[0].diagnostics, /is not permitted to perform/);
      // another organisation than the token's
      assertErs(await get(`${BASE}/SPECIALTY`, { ods: 'B82001' }), 403, 'NO_ACCESS');
    });

    it('refuses missing headers with 400 MISSING_HEADER', async () => {
      assertErs(await get(`${BASE}/PRIORITY`, { ods: null }), 400, 'MISSING_HEADER', 'required');
      assertErs(
        await get(`${BASE}/PRIORITY`, { businessFunction: null }),
        400,
        'MISSING_HEADER',
        'required',
      );
      assertErs(await get(`${BASE}/PRIORITY`, { ods: '' }), 400, 'MISSING_HEADER');
    });
  });
}
