/**
 * SCR consent end to end: patients' choices recorded as Consent resources (core, additional
 * information, dissent, national data opt-out), with history, audit and version-checked state;
 * patients managing their own choices; clinicians' permission to view; and the opt-out filter for
 * secondary uses. Every refusal path is checked with its Spine code.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import type { Patient } from 'fhir/r4.js';
import { mintPatientToken } from '../src/security/embedded-idp.js';
import { LegitimateRelationships } from '../src/security/relationships.js';
import { CONSENT_CHOICE_SYSTEM, type ChoiceCode } from '../src/services/scr/consent-codes.js';
import {
  consentStates,
  currentPermission,
  readConsentState,
  SCR_CONSENT_STATE_TYPE,
} from '../src/services/scr/consent-store.js';
import { optedOut } from '../src/services/scr/optout.js';
import { VersionConflictError } from '../src/store/errors.js';
import type { AuditRecord } from '../src/audit/types.js';
import type { Repository } from '../src/store/repository.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import {
  assertOutcome,
  commitPatients,
  currentJane,
  NHS,
  repoRoot,
  SPARE_NHS,
  withNhsNumber,
} from './helpers/pds-fixtures.js';

const SCR = '/summary-care-record/FHIR/R4';
const GP = 'Y12345'; // Jane's registered practice in the fixture, so also of every copy of her
const ELSEWHERE = 'A81001';
const NHS_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
const [P1, P2, P3, P4, P5, P6, OLD, SURVIVOR, OTHER] = SPARE_NHS;

function consentBody(nhs: string, code: string, overrides: Record<string, unknown> = {}) {
  return {
    resourceType: 'Consent',
    status: 'active',
    scope: {
      coding: [
        { system: 'http://terminology.hl7.org/CodeSystem/consentscope', code: 'patient-privacy' },
      ],
    },
    patient: { identifier: { system: NHS_SYSTEM, value: nhs } },
    policyRule: { coding: [{ system: CONSENT_CHOICE_SYSTEM, code }] },
    ...overrides,
  };
}

function permissionBody(nhs: string, code: string) {
  const body = JSON.parse(
    readFileSync(resolve(repoRoot, 'test/fixtures/scr/set-permission.Parameters.json'), 'utf8'),
  );
  body.parameter[0].part[0].valueString = nhs;
  body.parameter[0].part[1].valueCoding.code = code;
  return body;
}

const optOutBody = (nhs: string, optOut: boolean) => ({
  resourceType: 'Parameters',
  parameter: [
    { name: 'patient', valueIdentifier: { system: NHS_SYSTEM, value: nhs } },
    { name: 'optOut', valueBoolean: optOut },
  ],
});

const tokenExp = (token: string): number =>
  JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp;

async function auditFor(
  repo: Repository,
  patient: string,
  action?: string,
): Promise<AuditRecord[]> {
  const entries = await repo.audit.readAudit(0, 100_000);
  return entries
    .map((e) => e.record)
    .filter((r) => r.patient === patient && (!action || r.action === action));
}

for (const kind of await storesUnderTest()) {
  describe(`SCR consent (${kind})`, () => {
    let platform: TestPlatform;
    let gpToken: string;
    const post = (url: string, body: unknown, token?: string) =>
      platform.request({ method: 'POST', url: SCR + url, body, token });
    const patientToken = (nhs: string) =>
      mintPatientToken(platform.key, { nhsNumber: nhs, audience: platform.config.audience });

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      const old: Patient = withNhsNumber(currentJane(), OLD);
      old.link = [
        {
          type: 'replaced-by',
          other: { identifier: { system: NHS_SYSTEM, value: SURVIVOR } },
        } as any,
      ];
      const other: Patient = withNhsNumber(currentJane(), OTHER);
      other.generalPractitioner = [
        { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'B99999' } },
      ];
      await commitPatients(platform.repo, [
        currentJane(),
        ...[P1, P2, P3, P4, P5, P6, SURVIVOR].map((n) => withNhsNumber(currentJane(), n)),
        old,
        other,
      ]);
      gpToken = await platform.token('R8000', { user: 'gp-user', org: GP });
    });
    after(() => platform.close());

    describe('Consent choices', () => {
      it('each choice round-trips as a Consent and moves the patient state, audited old -> new', async () => {
        const steps: [ChoiceCode, string][] = [
          ['scr-additional', 'permit'],
          ['scr-dissent', 'deny'],
          ['national-data-opt-out', 'deny'],
          ['scr-core', 'permit'],
          ['national-data-opt-out-withdrawn', 'permit'],
        ];
        const ids: string[] = [];
        for (const [code, type] of steps) {
          const res = await post('/Consent', consentBody(P1, code), gpToken);
          assert.equal(res.statusCode, 201, res.body);
          assert.equal(res.headers.etag, 'W/"1"');
          const consent = res.json();
          assert.equal(
            res.headers.location,
            `${platform.config.publicUrl}${SCR}/Consent/${consent.id}`,
          );
          assert.equal(consent.policyRule.coding[0].code, code);
          assert.equal(consent.provision.type, type);
          assert.equal(consent.patient.identifier.value, P1);
          assert.equal(consent.performer[0].identifier.value, 'gp-user');
          const read = await platform.request({
            url: `${SCR}/Consent/${consent.id}`,
            token: gpToken,
          });
          assert.equal(read.statusCode, 200, read.body);
          assert.equal(read.json().policyRule.coding[0].code, code);
          ids.push(consent.id);
        }
        const { state, version } = await readConsentState(platform.repo, P1);
        assert.equal(version, steps.length);
        assert.deepEqual(
          {
            scr: state.scr,
            optOut: state.nationalOptOut,
            scrId: state.scrConsentId,
            optId: state.optOutConsentId,
          },
          { scr: 'core', optOut: false, scrId: ids[3], optId: ids[4] },
        );
        const scrAudit = (await auditFor(platform.repo, P1, 'scr.consent'))
          .filter((r) => r.outcome === 'recorded')
          .map((r) => `${r.detail!.from}->${r.detail!.to}`);
        assert.deepEqual(scrAudit, [
          'scr-core->scr-additional',
          'scr-additional->scr-dissent',
          'scr-dissent->scr-core',
        ]);
        const optAudit = (await auditFor(platform.repo, P1, 'optout.manage')).map(
          (r) => `${r.detail!.from}->${r.detail!.to}`,
        );
        assert.deepEqual(optAudit, [
          'national-data-opt-out-withdrawn->national-data-opt-out',
          'national-data-opt-out->national-data-opt-out-withdrawn',
        ]);
        for (const r of await auditFor(platform.repo, P1))
          assert.equal(r.type, 'patient-record', `audit type of ${r.action}`);
      });

      it('keeps the history: every Consent listed newest first, only the current ones active', async () => {
        const ids: string[] = [];
        for (const code of ['scr-additional', 'scr-dissent', 'scr-core'] as const)
          ids.push((await post('/Consent', consentBody(P2, code), gpToken)).json().id);
        const res = await platform.request({ url: `${SCR}/Consent?patient=${P2}`, token: gpToken });
        assert.equal(res.statusCode, 200, res.body);
        const bundle = res.json();
        assert.equal(bundle.type, 'searchset');
        assert.deepEqual(
          bundle.entry.map((e: any) => e.resource.id),
          [...ids].reverse(),
        );
        assert.deepEqual(
          bundle.entry.map((e: any) => e.resource.status),
          ['active', 'inactive', 'inactive'],
        );
        const older = await platform.request({ url: `${SCR}/Consent/${ids[0]}`, token: gpToken });
        assert.equal(
          older.headers.etag,
          'W/"2"',
          'the replaced Consent is a new version marked inactive',
        );
      });

      it('a superseded NHS Number records the choice against the surviving record', async () => {
        const res = await post('/Consent', consentBody(OLD, 'scr-dissent'), gpToken);
        assert.equal(res.statusCode, 201, res.body);
        assert.equal(res.json().patient.identifier.value, SURVIVOR);
        assert.equal((await readConsentState(platform.repo, SURVIVOR)).state.scr, 'dissent');
        assert.equal(
          (await readConsentState(platform.repo, OLD)).version,
          0,
          'nothing recorded under the old number',
        );
      });

      it('reading Consents is audited', async () => {
        const before = (await auditFor(platform.repo, P2, 'scr.consent')).filter(
          (r) => r.outcome === 'read',
        ).length;
        await platform.request({ url: `${SCR}/Consent?patient=${P2}`, token: gpToken });
        const afterReads = (await auditFor(platform.repo, P2, 'scr.consent')).filter(
          (r) => r.outcome === 'read',
        ).length;
        assert.equal(afterReads, before + 1);
      });
    });

    describe('refusals', () => {
      it('malformed Consent bodies each get their 4xx code and write nothing', async () => {
        const consents = await platform.repo.count('Consent');
        const cases: [unknown, string][] = [
          [{ ...consentBody(P3, 'scr-core'), resourceType: 'Patient' }, 'INVALID_VALUE'],
          [consentBody(P3, 'scr-core', { patient: undefined }), 'MISSING_VALUE'],
          [consentBody('9000000000', 'scr-core'), 'INVALID_RESOURCE_ID'],
          [
            consentBody(P3, 'scr-core', {
              patient: { identifier: { system: 'urn:other', value: P3 } },
            }),
            'INVALID_VALUE',
          ],
          [consentBody(P3, 'scr-everything'), 'UNSUPPORTED_VALUE'],
          [
            consentBody(P3, 'scr-core', {
              policyRule: { coding: [{ system: 'urn:other', code: 'x' }] },
            }),
            'MISSING_VALUE',
          ],
          [
            consentBody(P3, 'scr-core', {
              provision: {
                code: [{ coding: [{ system: CONSENT_CHOICE_SYSTEM, code: 'scr-dissent' }] }],
              },
            }),
            'TOO_MANY_VALUES_SUBMITTED',
          ],
          [consentBody(P3, 'scr-core', { status: 'draft' }), 'INVALID_VALUE'],
          [consentBody(P3, 'scr-core', { status: undefined }), 'MISSING_VALUE'],
          [
            consentBody(P3, 'scr-core', {
              scope: {
                coding: [
                  {
                    system: 'http://terminology.hl7.org/CodeSystem/consentscope',
                    code: 'research',
                  },
                ],
              },
            }),
            'INVALID_VALUE',
          ],
          ['[1,2]', 'INVALID_VALUE'],
        ];
        for (const [body, code] of cases)
          assertOutcome(await post('/Consent', body, gpToken), 400, code);
        assert.equal(
          await platform.repo.count('Consent'),
          consents,
          'no Consent stored by a refused request',
        );
        assert.equal(
          (await readConsentState(platform.repo, P3)).version,
          0,
          'no state written by a refused request',
        );
      });

      it('an unknown patient is 404 and nothing is recorded', async () => {
        assertOutcome(
          await post('/Consent', consentBody(NHS.notFound, 'scr-dissent'), gpToken),
          404,
          'RESOURCE_NOT_FOUND',
        );
        assertOutcome(
          await platform.request({ url: `${SCR}/Consent?patient=${NHS.notFound}`, token: gpToken }),
          404,
          'RESOURCE_NOT_FOUND',
        );
        assertOutcome(
          await post(
            '/$setPermission',
            permissionBody(NHS.notFound, 'Yes'),
            await platform.token('R8000', { org: GP, user: 'nf' }),
          ),
          403,
          'NO_LEGITIMATE_RELATIONSHIP',
        );
        assert.equal((await readConsentState(platform.repo, NHS.notFound)).version, 0);
      });

      it('roles without the activity get 403, including a nurse setting the opt-out', async () => {
        assertOutcome(
          await post('/Consent', consentBody(P3, 'scr-core'), await platform.token('R8003')),
          403,
          'ACCESS_DENIED',
        );
        assertOutcome(
          await platform.request({
            url: `${SCR}/Consent?patient=${P3}`,
            token: await platform.token('R8004'),
          }),
          403,
          'ACCESS_DENIED',
        );
        assertOutcome(
          await post('/$set-opt-out', optOutBody(P3, true), await platform.token('R5080')),
          403,
          'ACCESS_DENIED',
        );
        assertOutcome(
          await post(
            '/$setPermission',
            permissionBody(NHS.jane, 'Yes'),
            await platform.token('R8008', { org: GP }),
          ),
          403,
          'ACCESS_DENIED',
        );
        const nurse = await platform.token('R8001');
        assertOutcome(
          await post('/Consent', consentBody(P3, 'national-data-opt-out'), nurse),
          403,
          'ACCESS_DENIED',
        );
        assertOutcome(
          await post('/$set-opt-out', optOutBody(P3, true), nurse),
          403,
          'ACCESS_DENIED',
        );
        assert.equal(
          (await readConsentState(platform.repo, P3)).version,
          0,
          'refused requests change nothing',
        );
        const allowed = await post('/Consent', consentBody(P3, 'scr-additional'), nurse);
        assert.equal(allowed.statusCode, 201, `a nurse records an SCR choice: ${allowed.body}`);
      });

      it('search and read refuse bad parameters', async () => {
        assertOutcome(
          await platform.request({ url: `${SCR}/Consent`, token: gpToken }),
          400,
          'MISSING_VALUE',
        );
        assertOutcome(
          await platform.request({ url: `${SCR}/Consent?patient=123`, token: gpToken }),
          400,
          'INVALID_SEARCH_DATA',
        );
        assertOutcome(
          await platform.request({
            url: `${SCR}/Consent?patient=${P1}&patient=${P2}`,
            token: gpToken,
          }),
          400,
          'INVALID_SEARCH_DATA',
        );
        assertOutcome(
          await platform.request({ url: `${SCR}/Consent/not-an-id`, token: gpToken }),
          400,
          'INVALID_RESOURCE_ID',
        );
        assertOutcome(
          await platform.request({
            url: `${SCR}/Consent/6f1c1b4e-0000-4000-8000-000000000000`,
            token: gpToken,
          }),
          404,
          'RESOURCE_NOT_FOUND',
        );
      });
    });

    describe('patients manage their own choices (P9)', () => {
      it('a patient sets their own opt-out and SCR choice, and reads their Consents', async () => {
        const token = await patientToken(P4);
        const optOut = await post('/Consent', consentBody(P4, 'national-data-opt-out'), token);
        assert.equal(optOut.statusCode, 201, optOut.body);
        assert.equal(optOut.json().performer[0].type, 'Patient');
        const dissent = await post('/Consent', consentBody(P4, 'scr-dissent'), token);
        assert.equal(dissent.statusCode, 201, dissent.body);
        const { state } = await readConsentState(platform.repo, P4);
        assert.deepEqual([state.scr, state.nationalOptOut], ['dissent', true]);
        const withdrawn = await post('/$set-opt-out', optOutBody(P4, false), token);
        assert.equal(withdrawn.statusCode, 201, withdrawn.body);
        assert.equal((await readConsentState(platform.repo, P4)).state.nationalOptOut, false);
        const list = await platform.request({ url: `${SCR}/Consent?patient=${P4}`, token });
        assert.equal(list.statusCode, 200, list.body);
        assert.equal(list.json().total, 3);
        const audit = await auditFor(platform.repo, P4, 'optout.manage');
        assert.ok(
          audit.every((r) => r.actorKind === 'patient' && r.userId === P4),
          'the patient is the recorded actor',
        );
      });

      it("a patient cannot set or read another patient's choices", async () => {
        const token = await patientToken(P4);
        assertOutcome(
          await post('/Consent', consentBody(P5, 'national-data-opt-out'), token),
          403,
          'ACCESS_DENIED',
        );
        assertOutcome(
          await post('/$set-opt-out', optOutBody(P5, true), token),
          403,
          'ACCESS_DENIED',
        );
        assertOutcome(
          await platform.request({ url: `${SCR}/Consent?patient=${P5}`, token }),
          403,
          'ACCESS_DENIED',
        );
        assert.equal(
          (await readConsentState(platform.repo, P5)).version,
          0,
          "the other patient's state is untouched",
        );
        assertOutcome(
          await post('/$setPermission', permissionBody(P4, 'Yes'), token),
          403,
          'ACCESS_DENIED',
        );
      });
    });

    describe('concurrent changes', () => {
      it('racing changes are applied in order or refused with 409, never lost', async () => {
        const codes: ChoiceCode[] = Array.from(
          { length: 10 },
          (_, i) => (['scr-core', 'scr-additional', 'scr-dissent'] as const)[i % 3],
        );
        const results = await Promise.all(
          codes.map((code) => post('/Consent', consentBody(P6, code), gpToken)),
        );
        for (const r of results)
          assert.ok(
            r.statusCode === 201 || r.statusCode === 409,
            `201 or 409, got ${r.statusCode}: ${r.body.slice(0, 200)}`,
          );
        for (const r of results.filter((x) => x.statusCode === 409))
          assertOutcome(r, 409, 'RESOURCE_VERSION_MISMATCH');
        const applied = results
          .filter((r) => r.statusCode === 201)
          .map((r) => r.json().id as string);
        assert.ok(applied.length >= 1, 'at least one change lands');
        const { state, version } = await readConsentState(platform.repo, P6);
        assert.equal(version, applied.length, 'every applied change moved the state exactly once');
        const audit = (await auditFor(platform.repo, P6, 'scr.consent')).filter(
          (r) => r.outcome === 'recorded',
        );
        assert.equal(audit.length, applied.length, 'one audit entry per applied change');
        // in commit order each change starts from the state the previous one left
        let current = 'scr-core';
        for (const r of audit) {
          assert.equal(
            r.detail!.from,
            current,
            `change ${String(r.detail!.consent)} saw the previous change`,
          );
          current = r.detail!.to as string;
        }
        assert.equal(
          state.scrConsentId,
          audit.at(-1)!.detail!.consent,
          'the state holds the last applied change',
        );
        const listed = (
          await platform.request({ url: `${SCR}/Consent?patient=${P6}`, token: gpToken })
        ).json();
        assert.equal(listed.total, applied.length, 'no Consent stored for a refused change');
        assert.equal(
          listed.entry.filter((e: any) => e.resource.status === 'active').length,
          1,
          'exactly one Consent in force',
        );
      });

      it('the store refuses a consent state write on a stale version', async () => {
        const { state, version } = await readConsentState(platform.repo, P6);
        await assert.rejects(
          platform.repo.commit({
            resources: [
              {
                type: SCR_CONSENT_STATE_TYPE,
                id: P6,
                expectedVersion: version - 1,
                resource: { ...state, scr: 'dissent' },
                index: [],
              },
            ],
          }),
          (err) => err instanceof VersionConflictError,
        );
      });
    });

    describe('retries (X-Request-ID)', () => {
      it('a Consent retried with the same X-Request-ID is recorded once and answered as first', async () => {
        const requestId = randomUUID();
        const send = (token = gpToken) =>
          platform.request({
            method: 'POST',
            url: `${SCR}/Consent`,
            token,
            headers: { 'x-request-id': requestId },
            body: consentBody(P3, 'scr-core'),
          });
        const before = await readConsentState(platform.repo, P3);
        const first = await send();
        assert.equal(first.statusCode, 201, first.body);
        const again = await send();
        assert.equal(again.statusCode, 201, again.body);
        assert.deepEqual(again.json(), first.json(), 'the original Consent');
        assert.deepEqual(
          [again.headers.etag, again.headers.location],
          [first.headers.etag, first.headers.location],
        );
        assert.equal(
          (await readConsentState(platform.repo, P3)).version,
          before.version + 1,
          'the state moved once',
        );
        const recorded = (await auditFor(platform.repo, P3, 'scr.consent')).filter(
          (r) => r.requestId === requestId && r.outcome === 'recorded',
        );
        assert.equal(recorded.length, 1, 'one recorded audit entry');
        assertOutcome(
          await send(await platform.token('R8000', { user: 'someone-else', org: GP })),
          400,
          'INVALID_VALUE',
        );
        assertOutcome(
          await platform.request({
            method: 'POST',
            url: `${SCR}/$set-opt-out`,
            token: await platform.token('R8008', { user: 'gp-user' }),
            headers: { 'x-request-id': requestId },
            body: optOutBody(P3, true),
          }),
          400,
          'INVALID_VALUE',
        );
        assert.equal(
          (await readConsentState(platform.repo, P3)).state.nationalOptOut,
          false,
          'the reused X-Request-ID changed nothing',
        );
      });

      it('two racing copies of one Consent record it once and both get it', async () => {
        const requestId = randomUUID();
        const before = await readConsentState(platform.repo, P3);
        const send = () =>
          platform.request({
            method: 'POST',
            url: `${SCR}/Consent`,
            token: gpToken,
            headers: { 'x-request-id': requestId },
            body: consentBody(P3, 'scr-additional'),
          });
        const [a, b] = await Promise.all([send(), send()]);
        assert.deepEqual(
          [a.statusCode, b.statusCode],
          [201, 201],
          a.body.slice(0, 200) + b.body.slice(0, 200),
        );
        assert.equal(a.json().id, b.json().id);
        assert.equal(
          (await readConsentState(platform.repo, P3)).version,
          before.version + 1,
          'one change applied',
        );
        const listed = (
          await platform.request({ url: `${SCR}/Consent?patient=${P3}`, token: gpToken })
        ).json();
        assert.equal(listed.entry.filter((e: any) => e.resource.id === a.json().id).length, 1);
      });
    });

    describe('permission to view ($setPermission)', () => {
      it('records Yes then No for the user, readable through currentPermission, audited with the basis', async () => {
        const yes = await post('/$setPermission', permissionBody(NHS.jane, 'Yes'), gpToken);
        assert.equal(yes.statusCode, 201, yes.body);
        const parts = Object.fromEntries(yes.json().parameter[0].part.map((p: any) => [p.name, p]));
        assert.equal(parts.permissionCode.valueCoding.code, 'Yes');
        assert.equal(parts.accessBasis.valueCode, 'registered-gp');
        const p = await currentPermission(platform.repo, NHS.jane, 'gp-user');
        assert.equal(p?.code, 'Yes');
        assert.equal(
          Date.parse(p!.expires),
          tokenExp(gpToken) * 1000,
          'lasts until the session token expires',
        );
        assert.equal(
          await currentPermission(platform.repo, NHS.jane, 'gp-user', tokenExp(gpToken) * 1000 + 1),
          null,
          'gone after the session',
        );
        assert.equal(
          await currentPermission(platform.repo, NHS.jane, 'someone-else'),
          null,
          'per user',
        );

        const no = await post('/$setPermission', permissionBody(NHS.jane, 'No'), gpToken);
        assert.equal(no.statusCode, 201, no.body);
        assert.equal((await currentPermission(platform.repo, NHS.jane, 'gp-user'))?.code, 'No');
        const audit = (await auditFor(platform.repo, NHS.jane, 'scr.view')).filter(
          (r) => r.outcome === 'permission-recorded',
        );
        assert.deepEqual(
          audit.map((r) => [r.userId, r.detail!.code, r.detail!.basis]),
          [
            ['gp-user', 'Yes', 'registered-gp'],
            ['gp-user', 'No', 'registered-gp'],
          ],
        );
      });

      it('no legitimate relationship: 403 NO_LEGITIMATE_RELATIONSHIP and nothing recorded', async () => {
        const stranger = await platform.token('R8000', { user: 'stranger', org: ELSEWHERE });
        assertOutcome(
          await post('/$setPermission', permissionBody(OTHER, 'Yes'), stranger),
          403,
          'NO_LEGITIMATE_RELATIONSHIP',
        );
        assert.equal(await currentPermission(platform.repo, OTHER, 'stranger'), null);
      });

      it('emergency access is a basis, recorded as such', async () => {
        const token = await platform.token('R8000', { user: 'ae-doctor', org: ELSEWHERE });
        const principal = await (
          await import('../src/security/token-verifier.js')
        ).principalFromClaims(JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()));
        await new LegitimateRelationships(platform.repo).grantEmergencyAccess(
          { requestId: 'test', principal },
          OTHER,
          'life-threatening',
          'collapsed in A&E',
        );
        const res = await post('/$setPermission', permissionBody(OTHER, 'Yes'), token);
        assert.equal(res.statusCode, 201, res.body);
        assert.equal(
          res.json().parameter[0].part.find((p: any) => p.name === 'accessBasis').valueCode,
          'emergency-access',
        );
        const audit = (await auditFor(platform.repo, OTHER, 'scr.view')).find(
          (r) => r.outcome === 'permission-recorded',
        );
        assert.equal(audit?.purpose, 'emergency-access');
        assert.equal(audit?.detail?.basis, 'emergency-access');
      });

      it('malformed setPermission bodies each get their 400 code', async () => {
        const body = permissionBody(NHS.jane, 'Yes');
        const cases: [unknown, string][] = [
          [{ resourceType: 'Consent' }, 'INVALID_VALUE'],
          [{ resourceType: 'Parameters', parameter: [] }, 'MISSING_VALUE'],
          [
            { resourceType: 'Parameters', parameter: [body.parameter[0], body.parameter[0]] },
            'TOO_MANY_VALUES_SUBMITTED',
          ],
          [permissionBody('9000000000', 'Yes'), 'INVALID_RESOURCE_ID'],
          [permissionBody(NHS.jane, 'Maybe'), 'UNSUPPORTED_VALUE'],
          [
            {
              resourceType: 'Parameters',
              parameter: [{ name: 'setPermissions', part: [body.parameter[0].part[0]] }],
            },
            'MISSING_VALUE',
          ],
        ];
        for (const [b, code] of cases)
          assertOutcome(await post('/$setPermission', b, gpToken), 400, code);
      });
    });

    describe('national data opt-out for secondary uses', () => {
      it('optedOut names exactly the opted-out patients, with one readMany', async () => {
        const nurseFree = await platform.token('R8008', { user: 'admin' });
        assert.equal(
          (await post('/$set-opt-out', optOutBody(P5, true), nurseFree)).statusCode,
          201,
        );
        // P4 opted out then withdrew; P1 opted out then withdrew; P2 never chose
        let reads = 0;
        let readManys = 0;
        const counting = new Proxy(platform.repo, {
          get(target, prop, receiver) {
            if (prop === 'read') reads++;
            if (prop === 'readMany') readManys++;
            const v = Reflect.get(target, prop, receiver);
            return typeof v === 'function' ? v.bind(target) : v;
          },
        });
        const result = await optedOut(counting, [P1, P2, P4, P5, P5, NHS.notFound]);
        assert.deepEqual([...result], [P5]);
        assert.deepEqual(
          [reads, readManys],
          [0, 2],
          'one readMany for supersession, one for the states, no per-patient reads',
        );
        assert.equal((await optedOut(platform.repo, [])).size, 0);
      });

      it("a superseded NHS Number follows its survivor's choices", async () => {
        // SURVIVOR dissented under OLD earlier; now it opts out too
        assert.equal(
          (
            await post(
              '/$set-opt-out',
              optOutBody(SURVIVOR, true),
              await platform.token('R8008', { user: 'admin' }),
            )
          ).statusCode,
          201,
        );
        const result = await optedOut(platform.repo, [OLD, P2]);
        assert.deepEqual(
          [...result],
          [OLD],
          'the old number is left out of secondary uses with its survivor',
        );
        const states = await consentStates(platform.repo, [OLD, SURVIVOR, P2]);
        assert.deepEqual(
          [states.get(OLD)?.id, states.get(OLD)?.scr, states.get(OLD)?.nationalOptOut],
          [SURVIVOR, 'dissent', true],
          "the old number answers with the survivor's state",
        );
        assert.equal(states.get(P2)?.id, P2);
        assert.equal(
          (
            await post(
              '/$set-opt-out',
              optOutBody(SURVIVOR, false),
              await platform.token('R8008', { user: 'admin' }),
            )
          ).statusCode,
          201,
        );
        assert.equal((await optedOut(platform.repo, [OLD])).size, 0, 'withdrawn for both numbers');
      });

      it('direct care is unaffected: a clinician still records permission to view an opted-out patient', async () => {
        const res = await post('/$setPermission', permissionBody(P5, 'Yes'), gpToken);
        assert.equal(res.statusCode, 201, res.body);
      });
    });
  });
}
