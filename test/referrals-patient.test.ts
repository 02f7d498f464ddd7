/**
 * The patient and their letter on both stores: a019 $ers.generatePatientLetter (a real PDF with the
 * UBRN and a password drawn then; only a salted scrypt hash kept; a new letter replaces the
 * password; an X-Request-ID retry cannot show the password again), the check every patient action
 * makes (verifyPatientAccess: wrong passwords audited, counted in the store and locked at the
 * fifth, the lock surviving a restart of the platform on the same store, a new letter lifting it),
 * and the patient routes: a patient lists and reads only their own referrals and cancels one with
 * the password of its letter.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID, scryptSync } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { PDFDocument } from 'pdf-lib';
import { AuditWriter } from '../src/audit/audit-writer.js';
import type { RequestContext } from '../src/context.js';
import { buildApp } from '../src/http/app.js';
import { mintPatientToken } from '../src/security/embedded-idp.js';
import { PATIENT_ROLE } from '../src/security/policy.js';
import { verifyPatientAccess } from '../src/services/referrals/patient-access.js';
import { PatientReferralService } from '../src/services/referrals/patient-service.js';
import { openRepository } from '../src/store/open.js';
import type { Repository } from '../src/store/repository.js';
import {
  assertErs,
  createReferral,
  ers,
  OTHER_ORG,
  OTHER_PATIENT,
  PATIENT,
  pdfText,
  published,
  seedReferralWorld,
  stateOf,
  STU3,
} from './helpers/ers-letters.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const PATIENT_BASE = '/referrals/patient/ReferralRequest';
const PASSWORD_ON_LETTER = /Password: ([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})/;
const REASONS = 'https://fhir.nhs.uk/STU3/CodeSystem/REFERRAL-CANCELLATION-REASON';
/** The patient role may cancel a referral only once policy.ts grants it ers.referral.cancel. */

function patientCtx(nhs: string): RequestContext {
  return {
    requestId: randomUUID(),
    principal: {
      kind: 'patient',
      userId: nhs,
      role: PATIENT_ROLE,
      org: '',
      nhsNumber: nhs,
      sessionId: randomUUID(),
      issuer: 'test',
      expiresAt: Date.now() / 1000 + 3600,
    },
  };
}

const cancelBody = (
  password: string | undefined,
  code = 'TREATMENT_NO_LONGER_REQUIRED',
  comments?: string,
) => ({
  resourceType: 'Parameters',
  parameter: [
    ...(password === undefined ? [] : [{ name: 'password', valueString: password }]),
    { name: 'cancellationReason', valueCoding: { system: REASONS, code } },
    ...(comments ? [{ name: 'cancellationComments', valueString: comments }] : []),
  ],
});

for (const kind of await storesUnderTest()) {
  describe(`e-RS patient letter and patient access (${kind})`, () => {
    let platform: TestPlatform;
    let strangerToken: string;
    /** After the restart test: the platform's second life on the same store. */
    let restarted: { app: FastifyInstance; repo: Repository } | undefined;

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      await seedReferralWorld(platform);
      strangerToken = await platform.token('R8000', { org: OTHER_ORG, user: 'stranger' });
    });
    after(async () => {
      if (restarted) {
        await restarted.app.close();
        await restarted.repo.close();
      }
      await platform.close();
    });

    const letter = (ubrn: string, extra: object = {}) =>
      ers(platform, {
        method: 'POST',
        url: `${STU3}/ReferralRequest/${ubrn}/$ers.generatePatientLetter`,
        ...extra,
      });
    /** A new letter's password, read off the PDF. */
    async function newPassword(ubrn: string, extra: object = {}): Promise<string> {
      const res = await letter(ubrn, extra);
      assert.equal(res.statusCode, 200, res.body);
      const m = PASSWORD_ON_LETTER.exec(pdfText(res.rawPayload));
      assert.ok(m, 'the letter shows a password');
      return m[1];
    }
    const verify = (
      ubrn: string,
      password: string,
      nhs = PATIENT,
      repo: Repository = platform.repo,
    ) =>
      verifyPatientAccess(
        { store: repo, audit: new AuditWriter(repo) },
        patientCtx(nhs),
        { nhsNumber: nhs, ubrn, password },
        'ers.referral.cancel',
      );
    /** The eRS refusal a rejected promise carries. */
    async function refused(p: Promise<unknown>, status: number, code: string): Promise<string> {
      try {
        await p;
      } catch (err: any) {
        assert.equal(err.status, status, err.message);
        assert.equal(err.ersCode, code, err.message);
        return err.message;
      }
      assert.fail(`expected ${status} ${code}`);
    }
    it('a019 prints a PDF letter with the UBRN and a fresh password, keeping only a salted scrypt hash', async () => {
      const ubrn = await createReferral(platform);
      const res = await letter(ubrn);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers['content-type'], 'application/pdf');
      assert.match(
        String(res.headers['content-disposition']),
        new RegExp(`^attachment; filename="${ubrn}_Patient_Letter_\\d{14}\\.pdf"$`),
      );
      assert.equal(Number(res.headers['content-length']), res.rawPayload.length);
      const doc = await PDFDocument.load(res.rawPayload);
      const text = pdfText(res.rawPayload);
      assert.match(text, new RegExp(`Booking reference number \\(UBRN\\): ${ubrn}`));
      const password = PASSWORD_ON_LETTER.exec(text)![1];
      assert.ok(!doc.getTitle()?.includes(password) && !doc.getSubject()?.includes(password));

      const stored = (await platform.repo.read('ErsPatientAccess', ubrn))!;
      const json = JSON.stringify(stored.resource);
      const bare = password.replace(/-/g, '');
      assert.ok(!json.includes(password) && !json.includes(bare), 'the password is not stored');
      const { salt, hash, N, r, p } = stored.resource.password;
      assert.equal(stored.resource.password.alg, 'scrypt');
      assert.ok(Buffer.from(salt, 'base64').length >= 16, 'salted');
      assert.equal(
        scryptSync(bare, Buffer.from(salt, 'base64'), 32, { N, r, p }).toString('base64'),
        hash,
      );
      assert.equal(stored.resource.nhsNumber, PATIENT);
      assert.equal(stored.resource.failures, 0);
      // nor is it in the audit trail
      const head = await platform.repo.audit.auditHead();
      const entries = await platform.repo.audit.readAuditEntries(
        Array.from({ length: head.seq }, (_, i) => i + 1),
      );
      assert.ok(
        entries.some(
          (e) => e.record.action === 'ers.referral.letter' && e.record.patient === PATIENT,
        ),
      );
      assert.ok(
        entries.every((e) => !e.recordJson.includes(bare) && !e.recordJson.includes(password)),
      );

      // two letters never share a password
      assert.notEqual(await newPassword(ubrn), password);
    });

    it('a019 is the referrer’s alone, for a live referral; a retry cannot show the password again', async () => {
      const ubrn = await createReferral(platform);
      assertErs(await letter(ubrn, { token: strangerToken, ods: OTHER_ORG }), 403, 'NO_ACCESS');
      assertErs(
        await letter(ubrn, { businessFunction: 'SERVICE_PROVIDER_CLINICIAN' }),
        403,
        'NO_ACCESS',
      );
      assertErs(await letter(ubrn, { businessFunction: null }), 400, 'MISSING_HEADER');
      assertErs(await letter('000000000001'), 404, 'REC_NOT_FOUND');
      assertErs(await letter('0000-0000'), 400, 'INVALID_VALUE');
      assert.equal(await platform.repo.read('ErsPatientAccess', ubrn), null, 'no letter yet');

      const headers = { 'x-request-id': randomUUID() };
      const password = await newPassword(ubrn, { headers });
      const retry = await letter(ubrn, { headers });
      assertErs(retry, 409, 'INVALID_VALUE');
      await verify(ubrn, password); // the retry replaced nothing

      const cancelled = await ers(platform, {
        method: 'POST',
        url: `${STU3}/ReferralRequest/${ubrn}/$ers.cancelReferral`,
        body: published('cancelReferral-RaisedInError.json'),
        headers: { 'if-match': 'W/"1"' },
      });
      assert.equal(cancelled.statusCode, 200, cancelled.body);
      assertErs(await letter(ubrn), 422, 'INVALID_REQUEST_STATE');
    });

    it('the password of the latest letter works, the one before stops working, and only the patient’s own', async () => {
      const ubrn = await createReferral(platform);
      await refused(verify(ubrn, 'abcd-efgh-jkmn'), 403, 'NO_ACCESS_CODE');
      const first = await newPassword(ubrn);
      const grant = await verify(ubrn, first);
      assert.equal(grant.referral.id, ubrn);
      assert.equal(grant.referral.party, 'patient');
      assert.deepEqual(grant.resetFailures, []);
      // typed back in capitals with spaces instead of hyphens
      await verify(ubrn, first.toUpperCase().replace(/-/g, ' '));

      const second = await newPassword(ubrn);
      assert.match(await refused(verify(ubrn, first), 403, 'NO_ACCESS'), /attempt\(s\) left/);
      const after = await verify(ubrn, second);
      assert.equal(
        after.resetFailures.length,
        1,
        'a right password clears the count in the change',
      );

      // another patient with this UBRN and password, an unknown UBRN
      await refused(verify(ubrn, second, OTHER_PATIENT), 403, 'NO_ACCESS');
      await refused(verify('000000000001', second), 404, 'REC_NOT_FOUND');
    });

    it('the fifth wrong password locks the referral; the lock survives a restart on the same store; a new letter lifts it', async () => {
      const ubrn = await createReferral(platform);
      const password = await newPassword(ubrn);
      for (let i = 1; i <= 4; i++)
        assert.match(
          await refused(verify(ubrn, `wrong-${i}`), 403, 'NO_ACCESS'),
          new RegExp(`${5 - i} attempt`),
        );
      await refused(verify(ubrn, 'wrong-5'), 423, 'NO_ACCESS');
      await refused(verify(ubrn, password), 423, 'NO_ACCESS');
      const stored = (await platform.repo.read('ErsPatientAccess', ubrn))!.resource;
      assert.equal(stored.failures, 5);
      assert.ok(stored.lockedAt);
      const head = await platform.repo.audit.auditHead();
      const entries = await platform.repo.audit.readAuditEntries(
        Array.from({ length: head.seq }, (_, i) => i + 1),
      );
      const refusals = entries.filter(
        (e) => e.record.outcome === 'refused' && (e.record.detail as any)?.ubrn === ubrn,
      );
      assert.ok(refusals.length >= 6, `every refusal audited (${refusals.length})`);

      // the platform stops and starts again on the same store
      await platform.app.close();
      await platform.repo.close();
      const repo = await openRepository(platform.config);
      const app = await buildApp({
        config: platform.config,
        repo,
        signingKey: platform.key,
        logger: false,
      });
      await app.ready();
      restarted = { app, repo };
      await refused(verify(ubrn, password, PATIENT, repo), 423, 'NO_ACCESS');

      // the referrer prints a new letter: the lock is lifted and only the new password works
      const res = await ers(platform, {
        app,
        method: 'POST',
        url: `${STU3}/ReferralRequest/${ubrn}/$ers.generatePatientLetter`,
      });
      assert.equal(res.statusCode, 200, res.body);
      const fresh = PASSWORD_ON_LETTER.exec(pdfText(res.rawPayload))![1];
      await verify(ubrn, fresh, PATIENT, repo);
      await refused(verify(ubrn, password, PATIENT, repo), 403, 'NO_ACCESS');
    });
  });

  describe(`e-RS patient routes (${kind})`, () => {
    let platform: TestPlatform;
    let patientToken: string;
    let otherPatientToken: string;
    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      await seedReferralWorld(platform);
      const audience = platform.config.audience;
      patientToken = await mintPatientToken(platform.key, { nhsNumber: PATIENT, audience });
      otherPatientToken = await mintPatientToken(platform.key, {
        nhsNumber: OTHER_PATIENT,
        audience,
      });
    });
    after(() => platform.close());

    const call = (opts: {
      url: string;
      method?: string;
      body?: unknown;
      token?: string;
      headers?: Record<string, string>;
    }) =>
      platform.request({
        method: opts.method ?? 'GET',
        url: opts.url,
        body: opts.body,
        token: opts.token ?? patientToken,
        headers: opts.headers,
      });
    async function password(ubrn: string): Promise<string> {
      const res = await ers(platform, {
        method: 'POST',
        url: `${STU3}/ReferralRequest/${ubrn}/$ers.generatePatientLetter`,
      });
      assert.equal(res.statusCode, 200, res.body);
      return PASSWORD_ON_LETTER.exec(pdfText(res.rawPayload))![1];
    }

    it('a patient lists and reads their own referrals, and only theirs', async () => {
      const mine = [await createReferral(platform), await createReferral(platform)];
      const theirs = await createReferral(platform, OTHER_PATIENT);
      const list = await call({ url: PATIENT_BASE });
      assert.equal(list.statusCode, 200, list.body);
      const bundle = list.json();
      assert.equal(bundle.resourceType, 'Bundle');
      assert.equal(bundle.type, 'searchset');
      const ids = bundle.entry.map((e: any) => e.resource.id).sort();
      assert.deepEqual(ids, [...mine].sort());
      assert.ok(
        bundle.entry.every((e: any) =>
          e.fullUrl.endsWith(`${STU3}/ReferralRequest/${e.resource.id}`),
        ),
      );
      assert.ok(!list.body.includes('openspine.dev'), 'internal extensions hidden');
      const other = (await call({ url: PATIENT_BASE, token: otherPatientToken })).json();
      assert.deepEqual(
        other.entry.map((e: any) => e.resource.id),
        [theirs],
      );

      const one = await call({ url: `${PATIENT_BASE}/${mine[0]}` });
      assert.equal(one.statusCode, 200, one.body);
      assert.equal(one.json().id, mine[0]);
      assert.equal(one.headers.etag, 'W/"1"');
      assert.equal(stateOf(one.json()), 'NOT_BOOKED');
      assertErs(await call({ url: `${PATIENT_BASE}/${theirs}` }), 403, 'NO_ACCESS');
      assertErs(await call({ url: `${PATIENT_BASE}/000000000001` }), 404, 'REC_NOT_FOUND');
      assertErs(await call({ url: `${PATIENT_BASE}/not-a-ubrn` }), 400, 'INVALID_VALUE');

      // professionals use the published API; no token is no access
      const staff = await platform.token('R8000');
      assertErs(await call({ url: PATIENT_BASE, token: staff }), 403, 'NO_ACCESS');
      assert.equal((await call({ url: PATIENT_BASE, token: '' })).statusCode, 401);

      // the looks are audited, the refused one as refused
      const head = await platform.repo.audit.auditHead();
      const entries = await platform.repo.audit.readAuditEntries(
        Array.from({ length: head.seq }, (_, i) => i + 1),
      );
      assert.ok(
        entries.some((e) => e.record.actorKind === 'patient' && e.record.outcome === 'success'),
      );
      assert.ok(
        entries.some(
          (e) =>
            e.record.actorKind === 'patient' &&
            e.record.outcome === 'refused' &&
            (e.record.detail as any)?.ubrn === theirs,
        ),
      );
    });

    it('the patient cancellation use case: password, patient reason, transition, cleared count', async () => {
      // the use case behind the route, run as the route runs it (the route's role check aside)
      const service = new PatientReferralService(
        platform.repo,
        new AuditWriter(platform.repo),
        (u) => u,
      );
      const ubrn = await createReferral(platform);
      const pw = await password(ubrn);
      const cancel = (body: unknown, nhs = PATIENT) =>
        service.cancel(patientCtx(nhs), nhs, ubrn, body);
      await assert.rejects(cancel(cancelBody(pw, 'RAISED_IN_ERROR')), { ersCode: 'INVALID_CODE' });
      await assert.rejects(cancel(cancelBody('wrong-word-here')), {
        status: 403,
        ersCode: 'NO_ACCESS',
      });
      await assert.rejects(cancel(cancelBody(pw), OTHER_PATIENT), {
        status: 403,
        ersCode: 'NO_ACCESS',
      });
      assert.equal((await platform.repo.read('ErsPatientAccess', ubrn))!.resource.failures, 1);
      const saved = await cancel(
        cancelBody(pw, 'PATIENT_REQUEST_CANCELLATION_OTHER', 'Seen privately'),
      );
      assert.equal(saved.version, 2);
      assert.equal(stateOf(saved.resource), 'CANCELLED_REFERRAL');
      const state = saved.resource.extension.find((e: any) => e.url.endsWith('ReferralState-1'))!;
      assert.deepEqual(
        state.extension!.slice(1).map((e: any) => e.valueCoding?.code ?? e.valueString),
        ['PATIENT_REQUEST_CANCELLATION_OTHER', 'Seen privately'],
      );
      assert.ok(
        !JSON.stringify(saved.resource).includes(pw),
        'the password is not kept on the referral',
      );
      assert.equal((await platform.repo.read('ErsPatientAccess', ubrn))!.resource.failures, 0);
      await assert.rejects(cancel(cancelBody(pw)), {
        status: 422,
        ersCode: 'INVALID_REQUEST_STATE',
      });
    });

    it('a patient cancels their referral with the password of its letter; bad input, wrong passwords and other patients are refused', async () => {
      const ubrn = await createReferral(platform);
      const url = `${PATIENT_BASE}/${ubrn}/$ers.cancelReferral`;
      const cancel = (body: unknown, extra: object = {}) =>
        call({ method: 'POST', url, body, ...extra });
      assertErs(await cancel(cancelBody('abcd-efgh-jkmn')), 403, 'NO_ACCESS_CODE');
      const pw = await password(ubrn);
      const bad: [string, unknown, number, string][] = [
        ['not Parameters', { resourceType: 'Bundle' }, 422, 'INVALID_FHIR_STRUCTURE'],
        ['no password', cancelBody(undefined), 422, 'MISSING_VALUE'],
        ['an empty password', cancelBody(' '), 422, 'INVALID_VALUE'],
        ['a referrer-only reason', cancelBody(pw, 'RAISED_IN_ERROR'), 422, 'INVALID_CODE'],
        ['the patient died', cancelBody(pw, 'PATIENT_DIED'), 422, 'INVALID_CODE'],
        [
          'other, without comments',
          cancelBody(pw, 'PATIENT_REQUEST_CANCELLATION_OTHER'),
          422,
          'MISSING_VALUE',
        ],
        [
          'an unknown parameter',
          { resourceType: 'Parameters', parameter: [{ name: 'pin', valueString: '1' }] },
          422,
          'UNEXPECTED_FIELD',
        ],
      ];
      for (const [what, body, status, code] of bad) {
        const res = await cancel(body);
        assert.equal(res.statusCode, status, `${what}: ${res.body}`);
        assertErs(res, status, code);
      }
      assertErs(await cancel(cancelBody('wrong-word-here')), 403, 'NO_ACCESS');
      assertErs(await cancel(cancelBody(pw), { token: otherPatientToken }), 403, 'NO_ACCESS');
      assert.equal((await platform.repo.read('ReferralRequest', ubrn))!.version, 1, 'unchanged');

      const headers = { 'x-request-id': randomUUID() };
      const done = await cancel(cancelBody(pw, 'INTEND_PRIVATE'), { headers });
      assert.equal(done.statusCode, 200, done.body);
      const referral = done.json().parameter[0].resource;
      assert.equal(stateOf(referral), 'CANCELLED_REFERRAL');
      assert.equal(referral.status, 'cancelled');
      const reason = referral.extension
        .find((e: any) => e.url.endsWith('ReferralState-1'))
        .extension.find((e: any) => e.url === 'reason');
      assert.equal(reason.valueCoding.code, 'INTEND_PRIVATE');
      // the right password cleared the wrong one's count, in the same commit
      assert.equal((await platform.repo.read('ErsPatientAccess', ubrn))!.resource.failures, 0);
      const again = await cancel(cancelBody(pw, 'INTEND_PRIVATE'), { headers });
      assert.deepEqual(again.json(), done.json(), 'an X-Request-ID retry is answered as before');
      assertErs(await cancel(cancelBody(pw)), 422, 'INVALID_REQUEST_STATE');
    });
  });
}
