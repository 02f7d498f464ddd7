/**
 * X-Request-ID reuse across every writing route: a write sent with id X, then a DIFFERENT write
 * with the same X by the same user, must be refused with 400 INVALID_VALUE and change nothing
 * (never answered 200/201 with the first one's result while its own change is dropped); the first
 * write sent again unchanged is a retry and gets the original answer, applied once.
 *
 * Writing routes (from the route registrations in src/services/* /routes.ts and their siblings):
 *
 * Covered here (each records its X-Request-ID through src/http/request-replay.ts):
 *   PDS          POST /Patient, PATCH /Patient/{nhs}, POST /Patient/$merge
 *   SCR          POST /Bundle (document upload), POST /Consent, POST /$set-opt-out, POST /$setPermission
 *   Directory    POST and PUT of HealthcareService, PractitionerRole, Endpoint
 *   Events       POST /Subscription, DELETE /Subscription/{id}
 *   GP2GP        POST /Task, POST /Task/{id}/$acknowledge
 *   Security     POST /$emergency-access, POST /$claim-relationship, POST /EpisodeOfCare, POST
 * /EpisodeOfCare/{id}/$close
 *   EPS          $process-message (order, cancellation, dispense notification), /MedicationDispense
 *                $process-message, /Claim, /Task/$release, $withdraw, $return and POST /Task:
 *                test/eps-request-replay.test.ts (src/services/eps/once-service.ts)
 *
 * Exempt (they record no X-Request-ID, so a reused id is never answered with another request's
 * result; their retries are safe by the message or the state itself):
 *   EPS          $prepare writes nothing; a release that finds the queue empty writes nothing.
 *   GP2GP        POST /Task/{id}/$send is documented as not replayable (docs/gp2gp.md: a second send
 *                is refused by the state machine); PUT of an attachment chunk is addressed by its
 *                index and checked by its X-Chunk-SHA256, so a repeated chunk is stored once.
 *   Bulk         POST /$import streams its NDJSON body (never buffered, so it has no digest) and is
 *                idempotent per resource (unchanged lines are reported 'unchanged'); DELETE of an
 *                export job only cancels it (again: 202, nothing more); GET kick-offs are reads.
 *   Events       POST /Subscription/{id}/$acknowledge moves the mailbox cursor forward only.
 *   Messaging    POST /dead-letters/{id}/$replay replays a dead letter once (then 409).
 *   Identity     /authorize, /token, /revoke, /userinfo are OAuth endpoints, not FHIR APIs: no X-Request-ID.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Patient } from 'fhir/r4.js';
import type { LightMyRequestResponse } from 'fastify';
import { requestDigest } from '../src/http/request-replay.js';
import { EMERGENCY_ACCESS_TYPE, RELATIONSHIP_TYPE } from '../src/security/relationships.js';
import { seedPatients } from '../src/seed/seed-patients.js';
import { importOdsExtract } from '../src/services/directory/ods-import.js';
import { TASK } from '../src/services/gp2gp/transfer-model.js';
import { PATIENT } from '../src/services/pds/patient-model.js';
import { CONSENT_CHOICE_SYSTEM } from '../src/services/scr/consent-codes.js';
import {
  currentPermission,
  permissionId,
  readConsentState,
  SCR_CONSENT_STATE_TYPE,
  SCR_PERMISSION_TYPE,
} from '../src/services/scr/consent-store.js';
import { SCR_DOCUMENT_TYPE, SCR_POINTER_TYPE } from '../src/services/scr/document-model.js';
import { PERMISSION_SYSTEM } from '../src/services/scr/permission.js';
import {
  assertOutcome,
  commitPatients,
  currentJane,
  SPARE_NHS,
  withNhsNumber,
} from './helpers/pds-fixtures.js';
import { PDS, startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const SCR = '/summary-care-record/FHIR/R4';
const DIR = '/spine-directory/FHIR/R4';
const EVENTS = '/events/FHIR/R4';
const GP2GP = '/gp2gp/FHIR/R4';
const SECURITY = '/security/FHIR/R4';
const NHS_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
const ODS_SYSTEM = 'https://fhir.nhs.uk/Id/ods-organization-code';
const JSON_PATCH = 'application/json-patch+json';

const SCR_GP = { user: 'gp-sean', org: 'Y12345' }; // Jane's registered practice, so of every copy of her
const OLD_PRACTICE = 'B82001',
  NEW_PRACTICE = 'C83001';
const [
  UPLOAD,
  CONSENT,
  OPTOUT,
  PERMIT,
  TRANSFER_A,
  TRANSFER_B,
  TRANSFER_ACK,
  GRANT,
  CLAIM,
  EPISODE_A,
  EPISODE_B,
  SUBSCRIBED_A,
  SUBSCRIBED_B,
] = SPARE_NHS;

const scrFixture = (name: string, nhs: string) => {
  const doc = JSON.parse(readFileSync(new URL(`./fixtures/scr/${name}`, import.meta.url), 'utf8'));
  doc.entry.find((e: any) => e.resource.resourceType === 'Patient').resource.identifier[0].value =
    nhs;
  return doc;
};
const consentBody = (nhs: string, code: string) => ({
  resourceType: 'Consent',
  status: 'active',
  scope: {
    coding: [
      { system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' },
    ],
  },
  patient: { identifier: { system: NHS_SYSTEM, value: nhs } },
  policyRule: { coding: [{ system: CONSENT_CHOICE_SYSTEM, code }] },
});
const optOutBody = (nhs: string, optOut: boolean) => ({
  resourceType: 'Parameters',
  parameter: [
    { name: 'patient', valueIdentifier: { system: NHS_SYSTEM, value: nhs } },
    { name: 'optOut', valueBoolean: optOut },
  ],
});
const permissionBody = (nhs: string, code: 'Yes' | 'No') => ({
  resourceType: 'Parameters',
  parameter: [
    {
      name: 'setPermissions',
      part: [
        { name: 'nhsNumber', valueString: nhs },
        { name: 'permissionCode', valueCoding: { system: PERMISSION_SYSTEM, code } },
      ],
    },
  ],
});
const params = (values: Record<string, string>) => ({
  resourceType: 'Parameters',
  parameter: Object.entries(values).map(([name, value]) =>
    name === 'patient'
      ? { name, valueIdentifier: { system: NHS_SYSTEM, value } }
      : { name, valueString: value },
  ),
});
const serviceBody = (org: string, name: string) => ({
  resourceType: 'HealthcareService',
  providedBy: { reference: `Organization/${org}` },
  name,
  type: [
    {
      coding: [
        { system: 'https://openspine.dev/fhir/CodeSystem/service-type', code: 'gp-services' },
      ],
    },
  ],
});
const roleBody = (user: string, org: string, role = 'R8000') => ({
  resourceType: 'PractitionerRole',
  practitioner: { identifier: { system: 'https://fhir.nhs.uk/Id/sds-user-id', value: user } },
  organization: { identifier: { system: ODS_SYSTEM, value: org } },
  code: [
    {
      coding: [{ system: 'https://fhir.nhs.uk/CodeSystem/NHSDigital-SDS-JobRoleCode', code: role }],
    },
  ],
});
const endpointBody = (org: string, address: string) => ({
  resourceType: 'Endpoint',
  managingOrganization: { reference: `Organization/${org}` },
  address,
  name: 'Test system',
  identifier: [
    {
      system: 'https://fhir.nhs.uk/Id/nhsServiceInteractionId',
      value: 'urn:nhs:names:services:mm:PORX_IN020101SM31',
    },
  ],
});
const subscriptionBody = (nhs: string, event = 'pds-death-notification-1') => ({
  resourceType: 'Subscription',
  status: 'requested',
  reason: 'Keep the practice record in step',
  criteria: `/Bundle?type=message&serviceType=GP&MessageHeader.event=${event}&Patient.identifier=${NHS_SYSTEM}|${nhs}`,
  channel: {
    type: 'rest-hook',
    endpoint: 'https://hooks.example.nhs.uk/events',
    payload: 'application/fhir+json',
  },
});
const taskBody = (nhs: string) => ({
  resourceType: 'Task',
  intent: 'order',
  for: { identifier: { system: NHS_SYSTEM, value: nhs } },
  owner: { identifier: { system: ODS_SYSTEM, value: OLD_PRACTICE } },
});
const ackBody = (reason: string) => ({
  resourceType: 'Parameters',
  parameter: [
    { name: 'outcome', valueCode: 'rejected' },
    { name: 'reason', valueCode: reason },
  ],
});

/** Copies of Jane (registered at SCR_GP.org), or registered at another practice. */
function janeAs(nhs: string, practice?: string): Patient {
  const p = withNhsNumber(currentJane(), nhs);
  if (practice) p.generalPractitioner![0].identifier!.value = practice;
  return p;
}

type Send = (requestId: string) => Promise<LightMyRequestResponse>;

/** A write, a different write reusing its X-Request-ID, and what must (not) have happened. */
interface ReuseCase {
  /** The first write; its answer must have this status. */
  first: Send;
  status: number;
  /** A different write by the same user, under the same X-Request-ID. */
  second: Send;
  /** Fails when the second write's change was applied. */
  secondNotApplied: () => Promise<void>;
  /** Fails unless the first write was applied exactly once. */
  firstAppliedOnce: () => Promise<void>;
}

async function checkReuse(c: ReuseCase): Promise<void> {
  const requestId = randomUUID();
  const first = await c.first(requestId);
  assert.equal(first.statusCode, c.status, `first write: ${first.body.slice(0, 400)}`);

  const reused = await c.second(requestId);
  const outcome = assertOutcome(reused, 400, 'INVALID_VALUE');
  assert.equal(
    outcome.issue[0].diagnostics,
    `Invalid value - X-Request-ID '${requestId}' has already been used for a different request`,
  );
  await c.secondNotApplied();

  const retried = await c.first(requestId);
  assert.equal(
    retried.statusCode,
    first.statusCode,
    `the retry is answered as the first was: ${retried.body.slice(0, 400)}`,
  );
  assert.equal(
    retried.body === '' ? '' : JSON.stringify(retried.json()),
    first.body === '' ? '' : JSON.stringify(first.json()),
    'the same body',
  );
  for (const header of ['etag', 'location'])
    assert.equal(retried.headers[header], first.headers[header], `the same ${header}`);
  await c.firstAppliedOnce();
  await c.secondNotApplied();
}

for (const kind of await storesUnderTest()) {
  describe(`X-Request-ID reused for a different write is refused (${kind})`, () => {
    let platform: TestPlatform;
    let seeded: string[];
    const nameIds = new Map<string, string>();
    // a change within a list item names the item's id first
    // (NHSDigital/personal-demographics-service-api replaceErrors.feature)
    const renamed = (id: string, family: string) => ({
      patches: [
        { op: 'test', path: '/name/0/id', value: nameIds.get(id) },
        { op: 'replace', path: '/name/0/family', value: family },
      ],
    });
    let merger: string, scrGp: string, manager: string, newPractice: string, oldPractice: string;

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      await seedPatients(platform.repo, { patients: 12, seed: 33 });
      seeded = await platform.repo.search({
        type: PATIENT,
        criteria: [{ any: [{ param: 'identifier', op: 'prefix', value: '999' }] }],
        limit: 12,
      });
      for (const id of seeded)
        nameIds.set(id, (await platform.repo.read(PATIENT, id))!.resource.name![0].id!);
      await commitPatients(platform.repo, [
        ...[
          UPLOAD,
          CONSENT,
          OPTOUT,
          PERMIT,
          GRANT,
          CLAIM,
          EPISODE_A,
          EPISODE_B,
          SUBSCRIBED_A,
          SUBSCRIBED_B,
        ].map((n) => janeAs(n)),
        ...[TRANSFER_A, TRANSFER_B, TRANSFER_ACK].map((n) => janeAs(n, NEW_PRACTICE)),
      ]);
      // the SCR fixture document carries additional information, which needs the patient's express consent
      await platform.repo.commit({
        resources: [
          {
            type: SCR_CONSENT_STATE_TYPE,
            id: UPLOAD,
            expectedVersion: 0,
            resource: {
              resourceType: SCR_CONSENT_STATE_TYPE,
              id: UPLOAD,
              scr: 'additional',
              nationalOptOut: false,
            },
            index: [],
          },
        ],
      });
      const fixtures = join(import.meta.dirname, 'fixtures', 'directory');
      for (const f of ['epraccur-v1.csv', 'edispensary-quoted.csv'])
        await importOdsExtract(platform.repo, readFileSync(join(fixtures, f)));
      merger = await platform.token('R8013');
      scrGp = await platform.token('R8000', SCR_GP);
      manager = await platform.token('R8015', { user: 'sysadmin-1', org: 'X26' });
      newPractice = await platform.token('R8000', {
        user: `user-${NEW_PRACTICE}`,
        org: NEW_PRACTICE,
      });
      oldPractice = await platform.token('R8008', {
        user: `user-${OLD_PRACTICE}`,
        org: OLD_PRACTICE,
      });
    });
    after(() => platform?.close());

    const send =
      (
        method: string,
        url: string,
        body?: unknown,
        token?: string,
        headers: Record<string, string> = {},
        contentType?: string,
      ) =>
      (requestId: string) =>
        platform.request({
          method,
          url,
          body,
          token,
          contentType,
          headers: { ...headers, 'x-request-id': requestId },
        });
    const versions = async (type: string, id: string) =>
      (await platform.repo.history(type, id)).length;
    const familyOf = async (nhs: string) =>
      ((await platform.repo.read(PATIENT, nhs))!.resource as Patient).name![0].family;
    const count = async (type: string, param: string, value: string) =>
      (
        await platform.repo.search({
          type,
          criteria: [{ any: [{ param, op: 'eq', value }] }],
          limit: 100,
        })
      ).length;

    describe('PDS', () => {
      const birth = (family: string) => ({
        name: [{ use: 'usual', given: ['Ada'], family }],
        gender: 'female',
        birthDate: '2026-10-02',
        address: [
          {
            use: 'home',
            period: { start: '2026-10-02' },
            line: ['2 Mill Lane', '', '', 'Leeds'],
            postalCode: 'LS2 7EW',
          },
        ],
      }); // period and lines 1 and 4 required (postPatient.feature)

      it('POST /Patient (birth registration)', async () => {
        const before = await platform.repo.count(PATIENT);
        await checkReuse({
          first: send('POST', `${PDS}/Patient`, birth('Firstborn')),
          status: 201,
          second: send('POST', `${PDS}/Patient`, birth('Secondborn')),
          // only the first one's record is there (the second would be one more)
          secondNotApplied: async () =>
            assert.equal(await platform.repo.count(PATIENT), before + 1),
          firstAppliedOnce: async () =>
            assert.equal(await platform.repo.count(PATIENT), before + 1),
        });
      });

      it('PATCH /Patient/{nhs}', async () => {
        const patch = (family: string) =>
          send(
            'PATCH',
            `${PDS}/Patient/${seeded[0]}`,
            renamed(seeded[0], family),
            undefined,
            { 'if-match': 'W/"1"' },
            JSON_PATCH,
          );
        await checkReuse({
          first: patch('Firstpatch'),
          status: 200,
          second: patch('Secondpatch'),
          secondNotApplied: async () => assert.equal(await familyOf(seeded[0]), 'Firstpatch'),
          firstAppliedOnce: async () => assert.equal(await versions(PATIENT, seeded[0]), 2),
        });
      });

      it('POST /Patient/$merge', async () => {
        const merge = (source: string, target: string) =>
          send(
            'POST',
            `${PDS}/Patient/$merge`,
            {
              resourceType: 'Parameters',
              parameter: [
                { name: 'source-patient-identifier', valueIdentifier: { value: source } },
                { name: 'target-patient-identifier', valueIdentifier: { value: target } },
              ],
            },
            merger,
          );
        await checkReuse({
          first: merge(seeded[1], seeded[2]),
          status: 200,
          second: merge(seeded[3], seeded[4]),
          secondNotApplied: async () =>
            assert.deepEqual(
              [await versions(PATIENT, seeded[3]), await versions(PATIENT, seeded[4])],
              [1, 1],
            ),
          firstAppliedOnce: async () =>
            assert.deepEqual(
              [await versions(PATIENT, seeded[1]), await versions(PATIENT, seeded[2])],
              [2, 2],
            ),
        });
      });
    });

    describe('SCR', () => {
      it('POST /Bundle (document upload)', async () => {
        const documents = () => count(SCR_DOCUMENT_TYPE, 'patient', UPLOAD);
        await checkReuse({
          first: send('POST', `${SCR}/Bundle`, scrFixture('gp-summary.Bundle.json', UPLOAD), scrGp),
          status: 201,
          second: send(
            'POST',
            `${SCR}/Bundle`,
            scrFixture('gp-summary-update.Bundle.json', UPLOAD),
            scrGp,
          ),
          secondNotApplied: async () =>
            assert.equal(
              (await platform.repo.read(SCR_POINTER_TYPE, UPLOAD))!.resource.sequence,
              1,
              'no second version',
            ),
          firstAppliedOnce: async () => assert.equal(await documents(), 1),
        });
      });

      it('POST /Consent', async () => {
        await checkReuse({
          first: send('POST', `${SCR}/Consent`, consentBody(CONSENT, 'scr-additional'), scrGp),
          status: 201,
          second: send('POST', `${SCR}/Consent`, consentBody(CONSENT, 'scr-dissent'), scrGp),
          secondNotApplied: async () =>
            assert.equal((await readConsentState(platform.repo, CONSENT)).state.scr, 'additional'),
          firstAppliedOnce: async () =>
            assert.equal((await readConsentState(platform.repo, CONSENT)).version, 1),
        });
      });

      it('POST /$set-opt-out', async () => {
        const optOut = (value: boolean) =>
          send('POST', `${SCR}/$set-opt-out`, optOutBody(OPTOUT, value), scrGp);
        await checkReuse({
          first: optOut(true),
          status: 201,
          second: optOut(false),
          secondNotApplied: async () =>
            assert.equal(
              (await readConsentState(platform.repo, OPTOUT)).state.nationalOptOut,
              true,
            ),
          firstAppliedOnce: async () =>
            assert.equal((await readConsentState(platform.repo, OPTOUT)).version, 1),
        });
      });

      it('POST /$setPermission', async () => {
        await checkReuse({
          first: send('POST', `${SCR}/$setPermission`, permissionBody(PERMIT, 'Yes'), scrGp),
          status: 201,
          second: send('POST', `${SCR}/$setPermission`, permissionBody(PERMIT, 'No'), scrGp),
          secondNotApplied: async () =>
            assert.equal(
              (await currentPermission(platform.repo, PERMIT, SCR_GP.user))?.code,
              'Yes',
            ),
          firstAppliedOnce: async () =>
            assert.equal(await versions(SCR_PERMISSION_TYPE, permissionId(PERMIT, SCR_GP.user)), 1),
        });
      });
    });

    describe('Directory', () => {
      const created = async (type: string, body: unknown) => {
        const res = await send('POST', `${DIR}/${type}`, body, manager)(randomUUID());
        assert.equal(res.statusCode, 201, res.body.slice(0, 300));
        return res.json().id as string;
      };
      // the field that tells the n-th body of each type apart, read the same way from a body and a stored resource
      const cases: { type: string; make: (n: number) => any; field: (r: any) => unknown }[] = [
        {
          type: 'HealthcareService',
          make: (n) => serviceBody('A81001', `Reuse surgery ${n}`),
          field: (r) => r.name,
        },
        {
          type: 'PractitionerRole',
          make: (n) => roleBody(`reuse-user-${n}`, 'A81001'),
          field: (r) => r.practitioner.identifier.value,
        },
        {
          type: 'Endpoint',
          make: (n) => endpointBody('A81001', `https://reuse-${n}.example.nhs.uk/mhs`),
          field: (r) => r.address,
        },
      ];
      for (const c of cases) {
        it(`POST /${c.type}`, async () => {
          const all = async () =>
            (
              await platform.repo.searchResources({
                type: c.type,
                criteria: [{ any: [{ param: 'organization', op: 'eq', value: 'A81001' }] }],
                limit: 100,
              })
            ).map((s) => c.field(s.resource));
          await checkReuse({
            first: send('POST', `${DIR}/${c.type}`, c.make(1), manager),
            status: 201,
            second: send('POST', `${DIR}/${c.type}`, c.make(2), manager),
            secondNotApplied: async () =>
              assert.ok(!(await all()).includes(c.field(c.make(2))), `no second ${c.type}`),
            firstAppliedOnce: async () =>
              assert.equal((await all()).filter((v) => v === c.field(c.make(1))).length, 1),
          });
        });

        it(`PUT /${c.type}/{id}`, async () => {
          const id = await created(c.type, c.make(3));
          const put = (n: number) =>
            send('PUT', `${DIR}/${c.type}/${id}`, c.make(n), manager, { 'if-match': 'W/"1"' });
          await checkReuse({
            first: put(4),
            status: 200,
            second: put(5),
            secondNotApplied: async () =>
              assert.equal(
                c.field((await platform.repo.read(c.type, id))!.resource),
                c.field(c.make(4)),
              ),
            firstAppliedOnce: async () => assert.equal(await versions(c.type, id), 2),
          });
        });
      }
    });

    describe('Notifications', () => {
      const active = async (nhs: string) =>
        (
          await platform.repo.searchResources({
            type: 'Subscription',
            criteria: [{ any: [{ param: 'owner', op: 'eq', value: 'A81001' }] }],
            limit: 100,
          })
        ).filter(
          (s) => s.resource.status === 'active' && String(s.resource.criteria).endsWith(`|${nhs}`),
        ).length;

      it('POST /Subscription', async () => {
        await checkReuse({
          first: send('POST', `${EVENTS}/Subscription`, subscriptionBody(SUBSCRIBED_A)),
          status: 201,
          second: send('POST', `${EVENTS}/Subscription`, subscriptionBody(SUBSCRIBED_B)),
          secondNotApplied: async () => assert.equal(await active(SUBSCRIBED_B), 0),
          firstAppliedOnce: async () => assert.equal(await active(SUBSCRIBED_A), 1),
        });
      });

      it('DELETE /Subscription/{id}', async () => {
        const subscribe = async (event: string) => {
          const res = await send(
            'POST',
            `${EVENTS}/Subscription`,
            subscriptionBody(SUBSCRIBED_B, event),
          )(randomUUID());
          assert.equal(res.statusCode, 201, res.body.slice(0, 300));
          return res.json().id as string;
        };
        const first = await subscribe('pds-change-of-address-1'),
          second = await subscribe('pds-change-of-gp-1');
        const status = async (id: string) =>
          (await platform.repo.read('Subscription', id))!.resource.status;
        await checkReuse({
          first: send('DELETE', `${EVENTS}/Subscription/${first}`),
          status: 204,
          second: send('DELETE', `${EVENTS}/Subscription/${second}`),
          secondNotApplied: async () => assert.equal(await status(second), 'active'),
          firstAppliedOnce: async () =>
            assert.deepEqual(
              [await status(first), await versions('Subscription', first)],
              ['off', 2],
            ),
        });
      });
    });

    describe('GP2GP', () => {
      const transfers = (nhs: string) => count(TASK, 'patient', nhs);

      it('POST /Task', async () => {
        await checkReuse({
          first: send('POST', `${GP2GP}/Task`, taskBody(TRANSFER_A), newPractice),
          status: 201,
          second: send('POST', `${GP2GP}/Task`, taskBody(TRANSFER_B), newPractice),
          secondNotApplied: async () => assert.equal(await transfers(TRANSFER_B), 0),
          firstAppliedOnce: async () => assert.equal(await transfers(TRANSFER_A), 1),
        });
      });

      it('POST /Task/{id}/$acknowledge', async () => {
        const requested = await send(
          'POST',
          `${GP2GP}/Task`,
          taskBody(TRANSFER_ACK),
          newPractice,
        )(randomUUID());
        assert.equal(requested.statusCode, 201, requested.body.slice(0, 300));
        const id = requested.json().id as string;
        const ack = (reason: string) =>
          send('POST', `${GP2GP}/Task/${id}/$acknowledge`, ackBody(reason), oldPractice);
        const reason = async () =>
          (await platform.repo.read(TASK, id))!.resource.statusReason?.coding?.[0]?.code;
        await checkReuse({
          first: ack('patient-not-at-surgery'),
          status: 200,
          second: ack('ehr-extract-cannot-be-processed'),
          secondNotApplied: async () => assert.equal(await reason(), 'patient-not-at-surgery'),
          firstAppliedOnce: async () => assert.equal(await versions(TASK, id), 2),
        });
      });
    });

    describe('Security', () => {
      const relationships = async (nhs: string, kindOf: string) =>
        (
          await platform.repo.searchResources({
            type: RELATIONSHIP_TYPE,
            criteria: [{ any: [{ param: 'patient', op: 'eq', value: nhs }] }],
            limit: 100,
          })
        ).filter((s) => s.resource.kind === kindOf);

      it('POST /$emergency-access', async () => {
        const grants = async () =>
          (
            await platform.repo.searchResources({
              type: EMERGENCY_ACCESS_TYPE,
              criteria: [{ any: [{ param: 'patient', op: 'eq', value: GRANT }] }],
              limit: 100,
            })
          ).map((s) => s.resource.reasonText);
        await checkReuse({
          first: send(
            'POST',
            `${SECURITY}/$emergency-access`,
            params({
              patient: GRANT,
              reasonCode: 'life-threatening',
              reasonText: 'Collapsed in clinic',
            }),
          ),
          status: 201,
          second: send(
            'POST',
            `${SECURITY}/$emergency-access`,
            params({ patient: GRANT, reasonCode: 'urgent-care', reasonText: 'Another reason' }),
          ),
          secondNotApplied: async () => assert.ok(!(await grants()).includes('Another reason')),
          firstAppliedOnce: async () => assert.deepEqual(await grants(), ['Collapsed in clinic']),
        });
      });

      it('POST /$claim-relationship', async () => {
        const claims = async () =>
          (await relationships(CLAIM, 'self-claimed')).map((s) => s.resource.reason);
        await checkReuse({
          first: send(
            'POST',
            `${SECURITY}/$claim-relationship`,
            params({ patient: CLAIM, reason: 'Attending A&E now' }),
          ),
          status: 201,
          second: send(
            'POST',
            `${SECURITY}/$claim-relationship`,
            params({ patient: CLAIM, reason: 'Another reason' }),
          ),
          secondNotApplied: async () => assert.ok(!(await claims()).includes('Another reason')),
          firstAppliedOnce: async () => assert.deepEqual(await claims(), ['Attending A&E now']),
        });
      });

      it('POST /EpisodeOfCare', async () => {
        const episode = (nhs: string) => ({
          resourceType: 'EpisodeOfCare',
          status: 'active',
          patient: { identifier: { system: NHS_SYSTEM, value: nhs } },
        });
        await checkReuse({
          first: send('POST', `${SECURITY}/EpisodeOfCare`, episode(EPISODE_A)),
          status: 201,
          second: send('POST', `${SECURITY}/EpisodeOfCare`, episode(EPISODE_B)),
          secondNotApplied: async () =>
            assert.equal((await relationships(EPISODE_B, 'care-episode')).length, 0),
          firstAppliedOnce: async () =>
            assert.equal((await relationships(EPISODE_A, 'care-episode')).length, 1),
        });
      });

      it('POST /EpisodeOfCare/{id}/$close', async () => {
        const open = async () => {
          const res = await send('POST', `${SECURITY}/EpisodeOfCare`, {
            resourceType: 'EpisodeOfCare',
            status: 'active',
            patient: { identifier: { system: NHS_SYSTEM, value: EPISODE_B } },
          })(randomUUID());
          assert.equal(res.statusCode, 201, res.body.slice(0, 300));
          return res.json().id as string;
        };
        const first = await open(),
          second = await open();
        const status = async (id: string) =>
          (await platform.repo.read(RELATIONSHIP_TYPE, id))!.resource.status;
        await checkReuse({
          first: send('POST', `${SECURITY}/EpisodeOfCare/${first}/$close`),
          status: 200,
          second: send('POST', `${SECURITY}/EpisodeOfCare/${second}/$close`),
          secondNotApplied: async () => assert.equal(await status(second), 'active'),
          firstAppliedOnce: async () =>
            assert.deepEqual(
              [await status(first), await versions(RELATIONSHIP_TYPE, first)],
              ['ended', 2],
            ),
        });
      });
    });

    describe('what makes two requests the same', () => {
      it('two different PATCHes racing under one X-Request-ID: one is applied, the other refused, never answered with its result', async () => {
        const requestId = randomUUID();
        const patch = (family: string) =>
          platform.request({
            method: 'PATCH',
            url: `${PDS}/Patient/${seeded[5]}`,
            contentType: JSON_PATCH,
            headers: { 'x-request-id': requestId, 'if-match': 'W/"1"' },
            body: renamed(seeded[5], family),
          });
        const [a, b] = await Promise.all([patch('Racerone'), patch('Racertwo')]);
        const answers = [a, b].map((r) => r.statusCode).sort();
        assert.deepEqual(answers, [200, 400], a.body.slice(0, 200) + b.body.slice(0, 200));
        const winner = a.statusCode === 200 ? a : b;
        assert.equal(
          await familyOf(seeded[5]),
          winner.json().name[0].family,
          'the answer given is the change applied',
        );
        assert.equal(await versions(PATIENT, seeded[5]), 2);
      });

      it('a retry whose JSON body was re-serialised (other key order and spacing) is the same request', async () => {
        const requestId = randomUUID();
        const body = renamed(seeded[6], 'Reordered');
        const raw = (payload: string) =>
          platform.request({
            method: 'PATCH',
            url: `${PDS}/Patient/${seeded[6]}`,
            contentType: JSON_PATCH,
            headers: { 'x-request-id': requestId, 'if-match': 'W/"1"' },
            body: payload,
          });
        const first = await raw(JSON.stringify(body));
        assert.equal(first.statusCode, 200, first.body.slice(0, 300));
        const again = await raw(
          `{ "patches" : [ { "value": "${nameIds.get(seeded[6])}", "path": "/name/0/id", "op": "test" }, { "value": "Reordered", "path": "/name/0/family", "op": "replace" } ] }\n`,
        );
        assert.equal(again.statusCode, 200, again.body.slice(0, 300));
        assert.deepEqual(again.json(), first.json());
        assert.equal(await versions(PATIENT, seeded[6]), 2);
      });

      it('the same body under another If-Match, or from another user, is a different request', async () => {
        const requestId = randomUUID();
        const patch = (ifMatch: string, token?: string) =>
          platform.request({
            method: 'PATCH',
            url: `${PDS}/Patient/${seeded[7]}`,
            token,
            contentType: JSON_PATCH,
            headers: { 'x-request-id': requestId, 'if-match': ifMatch },
            body: renamed(seeded[7], 'Ifmatched'),
          });
        assert.equal((await patch('W/"1"')).statusCode, 200);
        assertOutcome(await patch('W/"2"'), 400, 'INVALID_VALUE');
        assertOutcome(
          await patch('W/"1"', await platform.token('R8000', { user: 'someone-else' })),
          400,
          'INVALID_VALUE',
        );
        assert.equal(await versions(PATIENT, seeded[7]), 2);
      });

      it('an X-Request-ID recorded before digests were kept (empty digest) is refused, not replayed', async () => {
        const requestId = randomUUID();
        // as the migration leaves a row of an older version: same user, method and path, no digest
        await platform.repo.commit({
          request: {
            requestId,
            userId: 'user-R8000',
            method: 'PATCH',
            path: `${PDS}/Patient/${seeded[8]}`,
            digest: '',
            status: 200,
            resourceType: PATIENT,
            resourceId: seeded[8],
            version: 1,
          },
        });
        const res = await platform.request({
          method: 'PATCH',
          url: `${PDS}/Patient/${seeded[8]}`,
          contentType: JSON_PATCH,
          headers: { 'x-request-id': requestId, 'if-match': 'W/"1"' },
          body: renamed(seeded[8], 'Legacy'),
        });
        assertOutcome(res, 400, 'INVALID_VALUE');
        assert.equal(await versions(PATIENT, seeded[8]), 1);
      });

      it('the digest covers method, path, query, Content-Type, If-Match and the body, and not X-Request-ID, Authorization or correlation ids', () => {
        const base = {
          method: 'POST',
          url: '/x/Patient?a=1',
          headers: {
            'content-type': 'application/fhir+json',
            'x-request-id': 'a',
            authorization: 'Bearer one',
            'x-correlation-id': 'c1',
          } as Record<string, string>,
          body: { b: [1, { c: 'd' }], a: null } as unknown,
        };
        const digest = (changes: Partial<typeof base>) =>
          requestDigest({ ...base, ...changes } as any);
        const same = digest({});
        assert.match(same, /^[0-9a-f]{64}$/);
        assert.equal(
          digest({
            headers: {
              ...base.headers,
              'x-request-id': 'b',
              authorization: 'Bearer two',
              'x-correlation-id': 'c2',
            },
          }),
          same,
        );
        assert.equal(
          digest({ headers: { ...base.headers, 'content-type': 'Application/FHIR+json' } }),
          same,
        );
        assert.equal(
          digest({ body: { a: null, b: [1, { c: 'd' }] } }),
          same,
          'key order does not matter',
        );
        for (const different of [
          digest({ method: 'PUT' }),
          digest({ url: '/x/Patient/1?a=1' }),
          digest({ url: '/x/Patient?a=2' }),
          digest({ headers: { ...base.headers, 'content-type': 'application/json' } }),
          digest({ headers: { ...base.headers, 'if-match': 'W/"1"' } }),
          digest({ body: { a: null, b: [{ c: 'd' }, 1] } }),
          digest({ body: { a: 'null', b: [1, { c: 'd' }] } }),
          digest({ body: undefined }),
        ])
          assert.notEqual(different, same);
        const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000));
        assert.match(
          requestDigest({ ...base, body: deep } as any),
          /^[0-9a-f]{64}$/,
          'a deeply nested body is digested without exhausting the stack',
        );
      });
    });
  });
}
