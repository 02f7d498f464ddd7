/**
 * The patient checks the password of their referral letter ($ers.checkPassword) and reads their
 * referral's current appointment (GET .../Appointment), OpenSpine's patient routes under
 * /referrals/patient, on both stores: a right password answers the referral and clears the count
 * of wrong ones, a wrong one is counted (and the fifth locks, as for every patient action), no
 * letter is NO_ACCESS_CODE; another patient's referral, staff and malformed bodies are refused in
 * eRS's words; every check and read is audited.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mintPatientToken } from '../src/security/embedded-idp.js';
import { addErsServices, createBody, PROVIDER, slotRun } from './helpers/ers-booking.js';
import {
  assertErs,
  ers,
  OTHER_PATIENT,
  PATIENT,
  pdfText,
  stateOf,
  STU3,
} from './helpers/ers-letters.js';
import { commitPatients, currentJane, withNhsNumber } from './helpers/pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const BASE = '/referrals/patient/ReferralRequest';
const PASSWORD_ON_LETTER = /Password: ([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})/;
const params = (...p: object[]) => ({ resourceType: 'Parameters', parameter: p });
const pw = (value: string) => ({ name: 'password', valueString: value });

for (const kind of await storesUnderTest()) {
  describe(`e-RS patient password check and appointment read (${kind})`, () => {
    let platform: TestPlatform;
    let patientToken: string, otherPatientToken: string, staffToken: string;

    before(async () => {
      platform = await startTestPlatform(kind, {
        config: { rateLimit: { userPerMinute: 0, applicationPerMinute: 0 } },
      });
      await commitPatients(platform.repo, [
        withNhsNumber(currentJane(), PATIENT),
        withNhsNumber(currentJane(), OTHER_PATIENT),
      ]);
      await addErsServices(platform.repo);
      const audience = platform.config.audience;
      patientToken = await mintPatientToken(platform.key, { nhsNumber: PATIENT, audience });
      otherPatientToken = await mintPatientToken(platform.key, {
        nhsNumber: OTHER_PATIENT,
        audience,
      });
      staffToken = await platform.token('R8000');
      const provider = await platform.token('R8000', { org: PROVIDER, user: 'provider' });
      const res = await platform.request({
        method: 'POST',
        url: '/referrals/manage/Slot/$publish',
        body: slotRun('11000'),
        token: provider,
      });
      assert.equal(res.statusCode, 201, res.body);
    });
    after(() => platform.close());

    const call = (url: string, body?: unknown, token = patientToken) =>
      platform.request({ method: body === undefined ? 'GET' : 'POST', url, body, token });
    const check = (ubrn: string, body: unknown, token = patientToken) =>
      call(`${BASE}/${ubrn}/$ers.checkPassword`, body, token);
    async function newReferral(): Promise<string> {
      const res = await ers(platform, {
        method: 'POST',
        url: `${STU3}/ReferralRequest/$ers.createReferral`,
        body: createBody(['11000', '11030']),
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json().id;
    }
    async function letter(ubrn: string): Promise<string> {
      const res = await ers(platform, {
        method: 'POST',
        url: `${STU3}/ReferralRequest/${ubrn}/$ers.generatePatientLetter`,
      });
      assert.equal(res.statusCode, 200, res.body);
      return PASSWORD_ON_LETTER.exec(pdfText(res.rawPayload))![1];
    }
    const failures = async (ubrn: string) =>
      ((await platform.repo.read('ErsPatientAccess', ubrn))!.resource as any).failures;
    async function audited(action: string, ubrn: string, outcome: string) {
      const head = await platform.repo.audit.auditHead();
      const all = await platform.repo.audit.readAuditEntries(
        Array.from({ length: head.seq }, (_, i) => i + 1),
      );
      return all.some(
        (e) =>
          e.record.action === action &&
          e.record.outcome === outcome &&
          (e.record.detail as any)?.ubrn === ubrn,
      );
    }

    it('checks the password: wrong ones counted, a right one answers the referral and clears the count', async () => {
      const ubrn = await newReferral();
      assertErs(await check(ubrn, params(pw('abcd-efgh-jkmn'))), 403, 'NO_ACCESS_CODE');
      const password = await letter(ubrn);
      const wrong = assertErs(await check(ubrn, params(pw('abcd-efgh-jkmn'))), 403, 'NO_ACCESS');
      assert.match(wrong.issue[0].diagnostics, /4 attempt\(s\) left/);
      assert.equal(await failures(ubrn), 1);
      assert.ok(await audited('ers.referral.checkPassword', ubrn, 'refused'));

      const right = await check(ubrn, params(pw(password)));
      assert.equal(right.statusCode, 200, right.body);
      assert.equal(right.json().id, ubrn);
      assert.equal(stateOf(right.json()), 'NOT_BOOKED');
      assert.equal(right.headers.etag, 'W/"1"');
      assert.equal(await failures(ubrn), 0, 'a right password clears the count');
      assert.ok(await audited('ers.referral.checkPassword', ubrn, 'success'));

      // another patient, staff, unknown and malformed
      assertErs(await check(ubrn, params(pw(password)), otherPatientToken), 403, 'NO_ACCESS');
      assertErs(await check(ubrn, params(pw(password)), staffToken), 403, 'NO_ACCESS');
      assertErs(await check('000000000001', params(pw(password))), 404, 'REC_NOT_FOUND');
      assertErs(await check('12345', params(pw(password))), 400, 'INVALID_VALUE');
      assertErs(await check(ubrn, params()), 422, 'MISSING_VALUE');
      assertErs(await check(ubrn, params(pw(' '))), 422, 'INVALID_VALUE');
      assertErs(await check(ubrn, { resourceType: 'Patient' }), 422, 'INVALID_FHIR_STRUCTURE');
      assertErs(
        await check(ubrn, params(pw(password), { name: 'slot', valueString: 'x' })),
        422,
        'UNEXPECTED_FIELD',
      );

      // five wrong passwords lock the referral: the right one is refused too (423)
      for (let i = 0; i < 4; i++) await check(ubrn, params(pw('abcd-efgh-jkmn')));
      const locked = await check(ubrn, params(pw('abcd-efgh-jkmn')));
      assert.equal(locked.statusCode, 423, locked.body);
      assert.equal((await check(ubrn, params(pw(password)))).statusCode, 423);
    });

    it("reads the referral's current appointment for its patient only", async () => {
      const ubrn = await newReferral();
      const url = `${BASE}/${ubrn}/Appointment`;
      assertErs(await call(url), 404, 'REC_NOT_FOUND');
      const password = await letter(ubrn);
      const slots = await call(`${BASE}/${ubrn}/Slot?service=11000&_count=1`);
      const slot = slots.json().entry.find((e: any) => e.resource.resourceType === 'Slot').resource;
      const booked = await call(
        `${BASE}/${ubrn}/$ers.bookAppointment`,
        params(
          pw(password),
          { name: 'service', valueString: '11000' },
          { name: 'slot', valueReference: { reference: `Slot/${slot.id}` } },
        ),
      );
      assert.equal(booked.statusCode, 201, booked.body);
      const read = await call(url);
      assert.equal(read.statusCode, 200, read.body);
      assert.deepEqual(read.json(), booked.json());
      assert.equal(read.headers.etag, 'W/"1"');
      assert.equal(read.json().start, slot.start);
      assert.ok(await audited('ers.appointment.read', ubrn, 'success'));
      assertErs(await call(url, undefined, otherPatientToken), 403, 'NO_ACCESS');
      assertErs(await call(url, undefined, staffToken), 403, 'NO_ACCESS');
      assertErs(await call(`${BASE}/000000000001/Appointment`), 404, 'REC_NOT_FOUND');
    });
  });
}
