/**
 * The national security model end to end: patient access (P9), legitimate relationships for
 * clinical activities, emergency (break-glass) access, self-claimed relationships, care episodes,
 * session lock through the revocation list, and rate limits.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Patient } from 'fhir/r4.js';
import { auditRecord } from '../src/audit/audit-record.js';
import { mintApplicationToken, mintPatientToken } from '../src/security/embedded-idp.js';
import { RevocationList } from '../src/security/accounts/revocations.js';
import { UserDirectory } from '../src/security/accounts/users.js';
import { LegitimateRelationships } from '../src/security/relationships.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import {
  assertOutcome,
  commitPatients,
  currentJane,
  NHS,
  PDS,
  withNhsNumber,
} from './helpers/pds-fixtures.js';

const SECURITY = '/security/FHIR/R4';
const GP = 'Y12345'; // Jane's registered practice in the fixture
const HOSPITAL = 'RR8';
const OTHER_PATIENT = '9000000041';

function params(entries: Record<string, string>) {
  return {
    resourceType: 'Parameters',
    parameter: Object.entries(entries).map(([name, value]) =>
      name === 'patient'
        ? { name, valueIdentifier: { system: 'https://fhir.nhs.uk/Id/nhs-number', value } }
        : { name, valueString: value },
    ),
  };
}

for (const kind of await storesUnderTest()) {
  describe(`security model (${kind})`, () => {
    let platform: TestPlatform;
    const probe = (nhs: string) => `/probe/Patient/${nhs}/clinical`;

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
        // a clinical route in the shape SCR and EPS will use: the platform decides who gets through
        extraRoutes: (app) => {
          app.get<{ Params: { nhsNumber: string } }>(
            '/probe/Patient/:nhsNumber/clinical',
            {
              config: { fhirApi: true, activity: 'scr.view', patientFrom: { param: 'nhsNumber' } },
            },
            async (req) => {
              // as a clinical service does: its audit entry takes the purpose from the request context
              await platform.repo.commit({
                audit: [auditRecord(req.ctx, 'scr.view', req.params.nhsNumber, 'read')],
              });
              return { basis: req.ctx.accessBasis ?? null, purpose: req.ctx.purpose ?? null };
            },
          );
        },
      });
      const other: Patient = withNhsNumber(currentJane(), OTHER_PATIENT);
      other.generalPractitioner = [
        { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: 'B99999' } },
      ];
      await commitPatients(platform.repo, [currentJane(), other]);
    });
    after(() => platform.close());

    const patientToken = (nhs: string, level = 'P9') =>
      mintPatientToken(platform.key, {
        nhsNumber: nhs,
        name: 'Jane Smith',
        audience: 'openspine',
        proofingLevel: level,
      });

    describe('patient access (NHS login P9)', () => {
      it('a patient reads their own demographics', async () => {
        const res = await platform.request({
          url: `${PDS}/Patient/${NHS.jane}`,
          token: await patientToken(NHS.jane),
        });
        assert.equal(res.statusCode, 200);
        assert.equal(res.json().id, NHS.jane);
      });

      it("patient A's token cannot read patient B, their related people or history", async () => {
        const token = await patientToken(NHS.jane);
        for (const url of [
          `${PDS}/Patient/${OTHER_PATIENT}`,
          `${PDS}/Patient/${OTHER_PATIENT}/RelatedPerson`,
          `${PDS}/Patient/${OTHER_PATIENT}/_history`,
        ]) {
          const res = await platform.request({ url, token });
          assertOutcome(res, 403, 'ACCESS_DENIED');
          assert.doesNotMatch(
            res.body,
            /Smith|Jane/,
            'nothing about the other patient is returned',
          );
        }
      });

      it('a patient cannot trace, register or merge; an update of their own record reaches the PDS rules', async () => {
        const token = await patientToken(NHS.jane);
        assertOutcome(
          await platform.request({
            url: `${PDS}/Patient?family=Smith&birthdate=eq2010-10-22`,
            token,
          }),
          403,
          'ACCESS_DENIED',
        );
        // published: a patient may update their own record within limits (patient-patch.yaml
        // "Patient access: Updates allowed (limited)",
        // patientAccess/updatePatient.feature), so an empty patch is the PDS's 400, not a 403
        assertOutcome(
          await platform.request({
            method: 'PATCH',
            url: `${PDS}/Patient/${NHS.jane}`,
            token,
            headers: { 'if-match': 'W/"1"' },
            body: { patches: [] },
            contentType: 'application/json-patch+json',
          }),
          400,
          'INVALID_UPDATE',
        );
        // published: PDS's gateway refuses a patient's POST as INVALID_METHOD (patientAccess/postPatient.feature)
        assertOutcome(
          await platform.request({ method: 'POST', url: `${PDS}/Patient`, token, body: {} }),
          403,
          'INVALID_METHOD',
        );
      });

      it("a patient reaches their own clinical record without a relationship, and no one else's", async () => {
        const own = await platform.request({
          url: probe(NHS.jane),
          token: await patientToken(NHS.jane),
        });
        assert.equal(own.statusCode, 200);
        assertOutcome(
          await platform.request({
            url: probe(OTHER_PATIENT),
            token: await patientToken(NHS.jane),
          }),
          403,
          'ACCESS_DENIED',
        );
      });

      it('a patient sees exactly who looked at their record: name, role, organisation, when and why; nothing of others', async () => {
        await new UserDirectory(platform.repo).add({
          id: 'dr-named',
          name: 'Dr Named Person',
          profiles: [{ role: 'R8000', org: 'RXH' }],
        });
        const clinician = await platform.token('R8000', { user: 'dr-named', org: 'RXH' }); // a token with no name claim
        assert.equal(
          (await platform.request({ url: `${PDS}/Patient/${NHS.jane}`, token: clinician }))
            .statusCode,
          200,
        );
        assert.equal(
          (await platform.request({ url: `${PDS}/Patient/${OTHER_PATIENT}`, token: clinician }))
            .statusCode,
          200,
        );
        const res = await platform.request({
          url: `${SECURITY}/AuditEvent?patient=${NHS.jane}&_count=1000`,
          token: await patientToken(NHS.jane),
        });
        assert.equal(res.statusCode, 200, res.body);
        const events = res.json().entry.map((e: any) => e.resource);
        const read = events.find((ev: any) => ev.agent?.[0]?.who?.identifier?.value === 'dr-named');
        assert.ok(read, 'the read by dr-named is in the log');
        assert.equal(read.agent[0].who.display, 'Dr Named Person');
        assert.match(JSON.stringify(read.agent[0].role), /Clinical Practitioner Access Role/);
        assert.match(JSON.stringify(read.agent), /RXH/);
        assert.ok(read.recorded, 'when');
        assert.match(JSON.stringify(read.purposeOfEvent), /direct-care/);
        assert.ok(!JSON.stringify(events).includes(OTHER_PATIENT), 'no trace of the other patient');
        assertOutcome(
          await platform.request({
            url: `${SECURITY}/AuditEvent?patient=${OTHER_PATIENT}`,
            token: await patientToken(NHS.jane),
          }),
          403,
          'ACCESS_DENIED',
        );
        assertOutcome(
          await platform.request({
            url: `${SECURITY}/AuditEvent`,
            token: await patientToken(NHS.jane),
          }),
          403,
          'ACCESS_DENIED',
        );
      });

      it('a patient token below identity proofing level P9 is refused', async () => {
        // PDS publishes a P5 patient's refusal as 403 (patientAccess/getPatient.feature); the other APIs answer 401
        assertOutcome(
          await platform.request({
            url: `${PDS}/Patient/${NHS.jane}`,
            token: await patientToken(NHS.jane, 'P5'),
          }),
          403,
          'ACCESS_DENIED',
        );
        assertOutcome(
          await platform.request({
            url: `${SECURITY}/AuditEvent?patient=${NHS.jane}`,
            token: await patientToken(NHS.jane, 'P5'),
          }),
          401,
          'ACCESS_DENIED',
        );
      });
    });

    describe('legitimate relationships', () => {
      it('demographics need no relationship; clinical data does', async () => {
        const token = await platform.token('R8000', { org: HOSPITAL, user: 'dr-no-relationship' });
        assert.equal(
          (await platform.request({ url: `${PDS}/Patient/${NHS.jane}`, token })).statusCode,
          200,
        );
        const res = await platform.request({ url: probe(NHS.jane), token });
        assertOutcome(res, 403, 'NO_LEGITIMATE_RELATIONSHIP');
      });

      it('the registered GP practice has a relationship; a former practice does not', async () => {
        const gp = await platform.token('R8000', { org: GP, user: 'dr-gp' });
        const res = await platform.request({ url: probe(NHS.jane), token: gp });
        assert.equal(res.statusCode, 200);
        assert.deepEqual(res.json(), { basis: 'registered-gp', purpose: null });
        // the fixture patient as published: the GP registration ended in 2021
        const former = withNhsNumber(currentJane(), '9000000068');
        former.generalPractitioner = [
          {
            identifier: {
              system: 'https://fhir.nhs.uk/Id/ods-organization-code',
              value: GP,
              period: { start: '2019-01-01', end: '2021-12-31' },
            },
          },
        ];
        await commitPatients(platform.repo, [former]);
        assertOutcome(
          await platform.request({ url: probe('9000000068'), token: gp }),
          403,
          'NO_LEGITIMATE_RELATIONSHIP',
        );
      });

      it('an open care episode gives the hospital a relationship until it is closed', async () => {
        const token = await platform.token('R8001', { org: 'RA7', user: 'nurse-ra7' });
        assertOutcome(
          await platform.request({ url: probe(NHS.jane), token }),
          403,
          'NO_LEGITIMATE_RELATIONSHIP',
        );
        const opened = await platform.request({
          method: 'POST',
          url: `${SECURITY}/EpisodeOfCare`,
          token,
          body: {
            resourceType: 'EpisodeOfCare',
            status: 'active',
            patient: { identifier: { value: NHS.jane } },
          },
        });
        assert.equal(opened.statusCode, 201, opened.body);
        const episode = opened.json();
        assert.equal(episode.managingOrganization.identifier.value, 'RA7');
        assert.deepEqual((await platform.request({ url: probe(NHS.jane), token })).json(), {
          basis: 'care-episode',
          purpose: null,
        });

        // another organisation cannot close it, and gains nothing from it
        const outsider = await platform.token('R8001', { org: 'RX1', user: 'nurse-rx1' });
        assertOutcome(
          await platform.request({
            method: 'POST',
            url: `${SECURITY}/EpisodeOfCare/${episode.id}/$close`,
            token: outsider,
          }),
          404,
          'RESOURCE_NOT_FOUND',
        );
        assertOutcome(
          await platform.request({ url: probe(NHS.jane), token: outsider }),
          403,
          'NO_LEGITIMATE_RELATIONSHIP',
        );

        const closed = await platform.request({
          method: 'POST',
          url: `${SECURITY}/EpisodeOfCare/${episode.id}/$close`,
          token,
        });
        assert.equal(closed.statusCode, 200);
        assert.equal(closed.json().status, 'finished');
        assertOutcome(
          await platform.request({ url: probe(NHS.jane), token }),
          403,
          'NO_LEGITIMATE_RELATIONSHIP',
        );
        assertOutcome(
          await platform.request({
            method: 'POST',
            url: `${SECURITY}/EpisodeOfCare/${episode.id}/$close`,
            token,
          }),
          409,
          'INVALID_UPDATE',
        );
      });

      it('referrals and prescriptions recorded by their services count, and expire', async () => {
        const relationships = new LegitimateRelationships(platform.repo);
        const pharmacy = await platform.token('R8003', { org: 'FA565', user: 'pharmacist' });
        assertOutcome(
          await platform.request({ url: probe(NHS.jane), token: pharmacy }),
          403,
          'NO_LEGITIMATE_RELATIONSHIP',
        );
        await relationships.record({
          patient: NHS.jane,
          org: 'FA565',
          kind: 'prescription',
          source: 'prescription:ABC',
        });
        assert.deepEqual(
          (await platform.request({ url: probe(NHS.jane), token: pharmacy })).json(),
          { basis: 'prescription', purpose: null },
        );

        const clinic = await platform.token('R8000', { org: 'RJ1', user: 'dr-rj1' });
        await relationships.record({
          patient: NHS.jane,
          org: 'RJ1',
          kind: 'referral',
          source: 'referral:1',
          end: new Date(Date.now() - 1000).toISOString(),
        });
        assertOutcome(
          await platform.request({ url: probe(NHS.jane), token: clinic }),
          403,
          'NO_LEGITIMATE_RELATIONSHIP',
        );
        await relationships.record({
          patient: NHS.jane,
          org: 'RJ1',
          kind: 'referral',
          source: 'referral:2',
        });
        assert.equal(
          (await platform.request({ url: probe(NHS.jane), token: clinic })).json().basis,
          'referral',
        );
      });

      it('a self-claimed relationship is granted, audited as such, and requests on it carry that purpose', async () => {
        const token = await platform.token('R8003', { org: 'RWA', user: 'hp-rwa' });
        assertOutcome(
          await platform.request({
            method: 'POST',
            url: `${SECURITY}/$claim-relationship`,
            token,
            body: params({ patient: NHS.jane }),
          }),
          400,
          'MISSING_VALUE',
        );
        const claim = await platform.request({
          method: 'POST',
          url: `${SECURITY}/$claim-relationship`,
          token,
          body: params({ patient: NHS.jane, reason: 'Attending A&E, patient presenting now' }),
        });
        assert.equal(claim.statusCode, 201, claim.body);
        const res = await platform.request({ url: probe(NHS.jane), token });
        assert.deepEqual(res.json(), {
          basis: 'self-claimed',
          purpose: 'self-claimed-relationship',
        });
        const entries = await platform.repo.audit.readAudit(0, 100_000);
        const claimed = entries.find(
          (e) => e.record.type === 'self-claimed-relationship' && e.record.userId === 'hp-rwa',
        );
        assert.ok(claimed, 'the claim is in the audit trail');
        assert.equal(claimed.record.patient, NHS.jane);
        assert.equal(claimed.record.detail?.reason, 'Attending A&E, patient presenting now');
      });
    });

    describe('emergency access (break-glass)', () => {
      it('needs a reason code and text, is time-limited to the user, audited with the reason, and marked as an alert', async () => {
        const token = await platform.token('R8000', { org: 'RXH', user: 'dr-emergency' });
        assertOutcome(
          await platform.request({ url: probe(NHS.jane), token }),
          403,
          'NO_LEGITIMATE_RELATIONSHIP',
        );
        assertOutcome(
          await platform.request({
            method: 'POST',
            url: `${SECURITY}/$emergency-access`,
            token,
            body: params({ patient: NHS.jane, reasonText: 'x' }),
          }),
          400,
          'MISSING_VALUE',
        );
        assertOutcome(
          await platform.request({
            method: 'POST',
            url: `${SECURITY}/$emergency-access`,
            token,
            body: params({ patient: NHS.jane, reasonCode: 'curious', reasonText: 'x' }),
          }),
          400,
          'INVALID_VALUE',
        );
        assertOutcome(
          await platform.request({
            method: 'POST',
            url: `${SECURITY}/$emergency-access`,
            token,
            body: params({ patient: NHS.jane, reasonCode: 'life-threatening' }),
          }),
          400,
          'MISSING_VALUE',
        );
        assertOutcome(
          await platform.request({
            method: 'POST',
            url: `${SECURITY}/$emergency-access`,
            token,
            body: params({
              patient: NHS.notFound,
              reasonCode: 'life-threatening',
              reasonText: 'Collapsed in clinic',
            }),
          }),
          404,
          'RESOURCE_NOT_FOUND',
        );

        const granted = await platform.request({
          method: 'POST',
          url: `${SECURITY}/$emergency-access`,
          token,
          body: params({
            patient: NHS.jane,
            reasonCode: 'life-threatening',
            reasonText: 'Collapsed in clinic, unconscious',
          }),
        });
        assert.equal(granted.statusCode, 201, granted.body);
        const expires = granted
          .json()
          .parameter.find((p: any) => p.name === 'expires').valueDateTime;
        assert.ok(
          Date.parse(expires) > Date.now() && Date.parse(expires) <= Date.now() + 61 * 60_000,
          `expires within the hour: ${expires}`,
        );

        const res = await platform.request({ url: probe(NHS.jane), token });
        assert.deepEqual(res.json(), { basis: 'emergency-access', purpose: 'emergency-access' });
        // the grant is this user's, for this patient only
        const colleague = await platform.token('R8000', { org: 'RXH', user: 'dr-colleague' });
        assertOutcome(
          await platform.request({ url: probe(NHS.jane), token: colleague }),
          403,
          'NO_LEGITIMATE_RELATIONSHIP',
        );
        assertOutcome(
          await platform.request({ url: probe(OTHER_PATIENT), token }),
          403,
          'NO_LEGITIMATE_RELATIONSHIP',
        );

        const entries = (await platform.repo.audit.readAudit(0, 100_000)).filter(
          (e) => e.record.userId === 'dr-emergency',
        );
        const alert = entries.find((e) => e.record.type === 'emergency-access');
        assert.ok(alert, 'the grant is audited as emergency access');
        assert.equal(alert.record.detail?.reasonCode, 'life-threatening');
        assert.equal(alert.record.detail?.reasonText, 'Collapsed in clinic, unconscious');
        assert.equal(alert.record.detail?.alert, true);
        assert.ok(
          entries.some(
            (e) => e.record.purpose === 'emergency-access' && e.record.type === 'patient-record',
          ),
          'the access made under it records emergency access as its purpose',
        );
      });

      it('an expired grant no longer counts', async () => {
        const relationships = new LegitimateRelationships(platform.repo);
        const principal = {
          kind: 'user' as const,
          userId: 'dr-expired',
          role: 'R8000',
          org: 'RXQ',
          sessionId: '',
          issuer: 'x',
          expiresAt: 0,
        };
        await relationships.grantEmergencyAccess(
          { requestId: 'r', principal },
          NHS.jane,
          'urgent-care',
          'test',
          0,
        );
        assert.equal(await relationships.basis(principal, NHS.jane), null);
      });

      it('roles without emergency access (admin staff) cannot break glass', async () => {
        const token = await platform.token('R8008', { org: 'RXH', user: 'admin-1' });
        assertOutcome(
          await platform.request({
            method: 'POST',
            url: `${SECURITY}/$emergency-access`,
            token,
            body: params({ patient: NHS.jane, reasonCode: 'life-threatening', reasonText: 'x' }),
          }),
          403,
          'ACCESS_DENIED',
        );
      });
    });

    describe('application-restricted tokens', () => {
      it("carry only their scopes; clinical scopes still need the organisation's relationship", async () => {
        const app = await mintApplicationToken(platform.key, {
          clientId: 'gp-system',
          name: 'GP system',
          org: GP,
          scopes: ['pds.read', 'scr.view'],
          audience: 'openspine',
        });
        assert.equal(
          (await platform.request({ url: `${PDS}/Patient/${NHS.jane}`, token: app })).statusCode,
          200,
        );
        assertOutcome(
          await platform.request({
            url: `${PDS}/Patient?family=Smith&birthdate=eq2010-10-22`,
            token: app,
          }),
          403,
          'ACCESS_DENIED',
        );
        assert.equal(
          (await platform.request({ url: probe(NHS.jane), token: app })).json().basis,
          'registered-gp',
        );
        assertOutcome(
          await platform.request({ url: probe(OTHER_PATIENT), token: app }),
          403,
          'NO_LEGITIMATE_RELATIONSHIP',
        );
      });
    });

    describe('session lock', () => {
      it('a revoked session is refused on its next request; other sessions of the user go on', async () => {
        const revocations = new RevocationList(platform.repo, 0);
        const token = await platform.token('R8000', { user: 'dr-lock' });
        const other = await platform.token('R8000', { user: 'dr-lock' });
        assert.equal(
          (await platform.request({ url: `${PDS}/Patient/${NHS.jane}`, token })).statusCode,
          200,
        );
        const sid = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sid;
        await revocations.revoke({ session: sid }, 'lost card', 'test');
        await new Promise((r) => setTimeout(r, platform.config.revocationCacheMs + 50));
        assertOutcome(
          await platform.request({ url: `${PDS}/Patient/${NHS.jane}`, token }),
          401,
          'ACCESS_DENIED',
        );
        assert.equal(
          (await platform.request({ url: `${PDS}/Patient/${NHS.jane}`, token: other })).statusCode,
          200,
        );
        await revocations.revoke({ user: 'dr-lock' }, 'left the trust', 'test');
        await new Promise((r) => setTimeout(r, platform.config.revocationCacheMs + 50));
        assertOutcome(
          await platform.request({ url: `${PDS}/Patient/${NHS.jane}`, token: other }),
          401,
          'ACCESS_DENIED',
        );
      });
    });
  });

  describe(`rate limits (${kind})`, () => {
    let platform: TestPlatform;
    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 5, applicationPerMinute: 3 } },
      });
      await commitPatients(platform.repo, [currentJane()]);
    });
    after(() => platform.close());

    it('a user over the limit gets 429 with Retry-After; another user is unaffected', async () => {
      const token = await platform.token('R8000', { user: 'busy' });
      for (let i = 0; i < 5; i++)
        assert.equal(
          (await platform.request({ url: `${PDS}/Patient/${NHS.jane}`, token })).statusCode,
          200,
        );
      const res = await platform.request({ url: `${PDS}/Patient/${NHS.jane}`, token });
      assertOutcome(res, 429, 'TOO_MANY_REQUESTS');
      const retry = Number(res.headers['retry-after']);
      assert.ok(
        Number.isInteger(retry) && retry >= 1 && retry <= 60,
        `Retry-After is whole seconds within the window: ${res.headers['retry-after']}`,
      );
      const calm = await platform.token('R8000', { user: 'calm' });
      assert.equal(
        (await platform.request({ url: `${PDS}/Patient/${NHS.jane}`, token: calm })).statusCode,
        200,
      );
      const refusals = (await platform.repo.audit.readAudit(0, 10_000)).filter(
        (e) => e.record.userId === 'busy' && e.record.outcome.startsWith('refused 429'),
      );
      assert.equal(refusals.length, 1, 'the throttled request is audited');
    });

    it('applications have their own limit', async () => {
      const app = await mintApplicationToken(platform.key, {
        clientId: 'batch',
        name: 'Batch',
        org: 'X26',
        scopes: ['pds.read'],
        audience: 'openspine',
      });
      for (let i = 0; i < 3; i++)
        assert.equal(
          (await platform.request({ url: `${PDS}/Patient/${NHS.jane}`, token: app })).statusCode,
          200,
        );
      assertOutcome(
        await platform.request({ url: `${PDS}/Patient/${NHS.jane}`, token: app }),
        429,
        'TOO_MANY_REQUESTS',
      );
    });

    it('public endpoints are not counted', async () => {
      for (let i = 0; i < 10; i++)
        assert.equal((await platform.app.inject({ url: '/_ping' })).statusCode, 200);
    });
  });
}
