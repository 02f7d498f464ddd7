/**
 * The patient books, changes and cancels their own appointment (OpenSpine's patient routes under
 * /referrals/patient), on both stores: the free slots of a shortlisted service without a password,
 * and with the password of the referral letter a booking (a016's booking step: the slot written at
 * the version read, a lost race answered 422 SLOT_NOT_AVAILABLE with nothing written), a move to
 * another slot (a034's rebook, the old slot freed in the same commit) and a cancellation with a
 * patient's APPOINTMENT-CANCELLATION-REASON. Wrong passwords are counted and lock the referral,
 * the lock surviving a restart; other patients, staff, wrong states and every malformed field are
 * refused in eRS's words; an X-Request-ID retry is answered as before; changes are audited with the
 * patient as actor.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { AuditWriter } from '../src/audit/audit-writer.js';
import type { RequestContext } from '../src/context.js';
import { buildApp } from '../src/http/app.js';
import { mintPatientToken } from '../src/security/embedded-idp.js';
import { PATIENT_ROLE } from '../src/security/policy.js';
import { BookingService } from '../src/services/referrals/booking-service.js';
import { openRepository } from '../src/store/open.js';
import type { Repository } from '../src/store/repository.js';
import type { ResourceStore, WriteBatch } from '../src/store/resource-store.js';
import {
  addErsServices,
  appointmentBody,
  createBody,
  OTHER_PROVIDER,
  PROVIDER,
  slotRun,
} from './helpers/ers-booking.js';
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
const MANAGE = '/referrals/manage';
const PASSWORD_ON_LETTER = /Password: ([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})/;
const REASONS = 'https://fhir.nhs.uk/STU3/CodeSystem/APPOINTMENT-CANCELLATION-REASON';
/** The referrals' shortlist: two directly bookable services, one with a named clinician, one not bookable. */
const SHORTLIST = ['11000', '11008', '11030'];

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

const params = (...p: object[]) => ({ resourceType: 'Parameters', parameter: p });
const pw = (value: string) => ({ name: 'password', valueString: value });
const slotParam = (id: string) => ({ name: 'slot', valueReference: { reference: `Slot/${id}` } });
const bookBody = (password: string, service: string, slot: string) =>
  params(pw(password), { name: 'service', valueString: service }, slotParam(slot));
const moveBody = (password: string, slot: string) => params(pw(password), slotParam(slot));
const cancelBody = (password: string, code = 'PATIENT_ILL', comments?: string) =>
  params(
    pw(password),
    { name: 'reason', valueCoding: { system: REASONS, code } },
    ...(comments === undefined ? [] : [{ name: 'comments', valueString: comments }]),
  );

for (const kind of await storesUnderTest()) {
  describe(`e-RS patient booking (${kind})`, () => {
    let platform: TestPlatform;
    let patientToken: string, otherPatientToken: string, staffToken: string, provider: string;
    let restarted: { app: FastifyInstance; repo: Repository } | undefined;

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
      provider = await platform.token('R8000', { org: PROVIDER, user: 'provider-clinician' });
      const other = await platform.token('R8000', { org: OTHER_PROVIDER, user: 'other' });
      const publish = async (body: object, token = provider) => {
        const res = await platform.request({
          method: 'POST',
          url: `${MANAGE}/Slot/$publish`,
          body,
          token,
        });
        assert.equal(res.statusCode, 201, res.body);
      };
      await publish(slotRun('11000', { days: 3 })); // 9 slots
      await publish(slotRun('11008', { clinician: '021600556514', times: ['13:15'] }));
      // the last slot the race is for: 12000 has one
      await publish(slotRun('12000', { days: 1, times: ['08:00'] }), other);
    });
    after(async () => {
      if (restarted) {
        await restarted.app.close();
        await restarted.repo.close();
      }
      await platform.close();
    });

    const call = (opts: {
      url: string;
      method?: string;
      body?: unknown;
      token?: string;
      headers?: Record<string, string>;
    }) =>
      platform.request({
        method: opts.method ?? (opts.body === undefined ? 'GET' : 'POST'),
        url: opts.url,
        body: opts.body,
        token: opts.token ?? patientToken,
        headers: opts.headers,
      });
    const op = (ubrn: string, name: string, body: unknown, extra: object = {}) =>
      call({ url: `${BASE}/${ubrn}/$ers.${name}`, body, ...extra });
    async function newReferral(nhs = PATIENT, services = SHORTLIST): Promise<string> {
      const res = await ers(platform, {
        method: 'POST',
        url: `${STU3}/ReferralRequest/$ers.createReferral`,
        body: createBody(services, nhs),
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
    async function freeSlots(ubrn: string, service = '11000', token = patientToken) {
      const res = await call({ url: `${BASE}/${ubrn}/Slot?service=${service}&_count=100`, token });
      assert.equal(res.statusCode, 200, res.body);
      return res
        .json()
        .entry.filter((e: any) => e.resource.resourceType === 'Slot')
        .map((e: any) => e.resource.id as string);
    }
    const read = <T = any>(type: string, id: string) =>
      platform.repo.read(type, id) as Promise<{ version: number; resource: T } | null>;
    const slotStatus = async (id: string) => (await read('Slot', id))!.resource.status;
    const failures = async (ubrn: string) =>
      (await read('ErsPatientAccess', ubrn))!.resource.failures;
    async function entries() {
      const head = await platform.repo.audit.auditHead();
      return platform.repo.audit.readAuditEntries(
        Array.from({ length: head.seq }, (_, i) => i + 1),
      );
    }
    /** Every answer is an eRS refusal, never a 500. */
    function refusedAs(what: string, res: LightMyRequestResponse, status: number, code: string) {
      assert.equal(res.statusCode, status, `${what}: ${res.body}`);
      assertErs(res, status, code);
    }

    it('the patient pages through the free slots of a shortlisted service, without a password', async () => {
      const ubrn = await newReferral();
      const page = await call({ url: `${BASE}/${ubrn}/Slot?service=11000&_count=4&page=2` });
      assert.equal(page.statusCode, 200, page.body);
      const b = page.json();
      assert.equal(b.resourceType, 'Bundle');
      assert.equal(b.type, 'searchset');
      assert.equal(b.total, 9);
      assert.deepEqual(
        b.link.map((l: any) => l.relation),
        ['self', 'previous', 'next'],
      );
      assert.match(
        b.link[2].url,
        new RegExp(`${BASE}/${ubrn}/Slot\\?service=11000&_count=4&page=3$`),
      );
      const slots = b.entry.filter((e: any) => e.search.mode === 'match');
      assert.equal(slots.length, 4);
      assert.ok(slots.every((e: any) => e.resource.status === 'free'));
      assert.ok(b.entry.some((e: any) => e.resource.resourceType === 'Schedule'));
      // the named clinician's slots are offered too (the clinician comes with the slot)
      assert.equal((await freeSlots(ubrn, '11008')).length, 2);
      assert.equal(await read('ErsPatientAccess', ubrn), null, 'no letter was needed');

      const theirs = await newReferral(OTHER_PATIENT);
      const bad: [string, string, number, string][] = [
        [
          'a service not on the shortlist',
          `${ubrn}/Slot?service=12000`,
          400,
          'INAPPROPRIATE_VALUE',
        ],
        ['a service not directly bookable', `${ubrn}/Slot?service=11030`, 400, 'INVALID_STATE'],
        ['no service', `${ubrn}/Slot`, 400, 'MISSING_PARAMETER'],
        ['a bad service id', `${ubrn}/Slot?service=a%20b`, 400, 'INVALID_VALUE'],
        ['service twice', `${ubrn}/Slot?service=11000&service=11008`, 400, 'INVALID_VALUE'],
        ['a zero page size', `${ubrn}/Slot?service=11000&_count=0`, 400, 'INVALID_VALUE'],
        ['a page size too big', `${ubrn}/Slot?service=11000&_count=101`, 400, 'INVALID_VALUE'],
        ['a page past the end', `${ubrn}/Slot?service=11000&page=9`, 400, 'INVALID_VALUE'],
        ['a page not a number', `${ubrn}/Slot?service=11000&page=two`, 400, 'INVALID_VALUE'],
        ['an unknown parameter', `${ubrn}/Slot?service=11000&colour=red`, 400, 'INVALID_VALUE'],
        ["another patient's referral", `${theirs}/Slot?service=11000`, 403, 'NO_ACCESS'],
        ['an unknown UBRN', `000000000001/Slot?service=11000`, 404, 'REC_NOT_FOUND'],
        ['a malformed UBRN', `12345/Slot?service=11000`, 400, 'INVALID_VALUE'],
      ];
      for (const [what, url, status, code] of bad)
        refusedAs(what, await call({ url: `${BASE}/${url}` }), status, code);
      refusedAs(
        'staff',
        await call({ url: `${BASE}/${ubrn}/Slot?service=11000`, token: staffToken }),
        403,
        'NO_ACCESS',
      );
      const audit = await entries();
      assert.ok(
        audit.some(
          (e) =>
            e.record.action === 'ers.slot.read' &&
            e.record.actorKind === 'patient' &&
            e.record.outcome === 'success' &&
            (e.record.detail as any)?.ubrn === ubrn,
        ),
        'the look is audited',
      );
      assert.ok(
        audit.some(
          (e) =>
            e.record.action === 'ers.slot.read' &&
            e.record.outcome === 'refused' &&
            (e.record.detail as any)?.ubrn === theirs,
        ),
        "the look at another patient's referral is audited as refused",
      );
    });

    it('the patient books a slot with the password; everything else is refused, nothing written', async () => {
      const ubrn = await newReferral();
      const [slot, other] = await freeSlots(ubrn);
      const [named] = await freeSlots(ubrn, '11008');
      const book = (body: unknown, extra: object = {}) => op(ubrn, 'bookAppointment', body, extra);
      refusedAs(
        'no letter yet',
        await book(bookBody('abcd-efgh-jkmn', '11000', slot)),
        403,
        'NO_ACCESS_CODE',
      );
      const password = await letter(ubrn);
      const bad: [string, unknown, number, string][] = [
        ['not Parameters', { resourceType: 'Appointment' }, 422, 'INVALID_FHIR_STRUCTURE'],
        ['no parameter array', { resourceType: 'Parameters' }, 422, 'INVALID_FHIR_STRUCTURE'],
        ['an array body', [], 422, 'INVALID_FHIR_STRUCTURE'],
        [
          'no password',
          params({ name: 'service', valueString: '11000' }, slotParam(slot)),
          422,
          'MISSING_VALUE',
        ],
        ['an empty password', bookBody(' ', '11000', slot), 422, 'INVALID_VALUE'],
        ['a numeric password', params({ name: 'password', valueInteger: 1 }), 422, 'INVALID_VALUE'],
        ['no service', params(pw(password), slotParam(slot)), 422, 'MISSING_VALUE'],
        ['a bad service', bookBody(password, 'a b', slot), 422, 'INVALID_VALUE'],
        [
          'a service as a number',
          params(pw(password), { name: 'service', valueInteger: 11000 }, slotParam(slot)),
          422,
          'INVALID_VALUE',
        ],
        [
          'no slot',
          params(pw(password), { name: 'service', valueString: '11000' }),
          422,
          'MISSING_VALUE',
        ],
        [
          'a slot as a string',
          params(
            pw(password),
            { name: 'service', valueString: '11000' },
            { name: 'slot', valueString: slot },
          ),
          422,
          'INVALID_VALUE',
        ],
        [
          'a slot reference to something else',
          params(
            pw(password),
            { name: 'service', valueString: '11000' },
            { name: 'slot', valueReference: { reference: `Schedule/${slot}` } },
          ),
          422,
          'INVALID_VALUE',
        ],
        ['a password twice', params(pw(password), pw(password)), 422, 'INVALID_FHIR_STRUCTURE'],
        [
          'an unknown parameter',
          params(pw(password), { name: 'clinician', valueString: '1' }),
          422,
          'UNEXPECTED_FIELD',
        ],
        [
          'a null parameter',
          { resourceType: 'Parameters', parameter: [null] },
          422,
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'a service not on the shortlist',
          bookBody(password, '12000', slot),
          422,
          'INAPPROPRIATE_VALUE',
        ],
        [
          'a service not directly bookable',
          bookBody(password, '11030', slot),
          422,
          'INAPPROPRIATE_VALUE',
        ],
        [
          'an unknown slot',
          bookBody(password, '11000', '11000-209901010900-1'),
          422,
          'REFERENCE_NOT_FOUND',
        ],
        ["another service's slot", bookBody(password, '11000', named), 422, 'INAPPROPRIATE_SLOT'],
      ];
      for (const [what, body, status, code] of bad) refusedAs(what, await book(body), status, code);
      assert.equal(await failures(ubrn), 0, 'a malformed request costs no password attempt');
      refusedAs(
        'a wrong password',
        await book(bookBody('wrong-word-here', '11000', slot)),
        403,
        'NO_ACCESS',
      );
      assert.equal(await failures(ubrn), 1, 'the wrong password is counted');
      refusedAs(
        'another patient',
        await book(bookBody(password, '11000', slot), { token: otherPatientToken }),
        403,
        'NO_ACCESS',
      );
      refusedAs(
        'staff',
        await book(bookBody(password, '11000', slot), { token: staffToken }),
        403,
        'NO_ACCESS',
      );
      assert.equal((await read('ReferralRequest', ubrn))!.version, 1, 'the referral unchanged');
      assert.equal(await slotStatus(slot), 'free');

      const headers = { 'x-request-id': randomUUID() };
      const done = await book(bookBody(password, '11000', slot), { headers });
      assert.equal(done.statusCode, 201, done.body);
      const appointment = done.json();
      assert.equal(appointment.resourceType, 'Appointment');
      assert.equal(appointment.status, 'booked');
      assert.deepEqual(appointment.slot, [{ reference: `Slot/${slot}` }]);
      assert.equal(appointment.incomingReferral[0].reference, `ReferralRequest/${ubrn}/_history/2`);
      assert.equal(done.headers.etag, 'W/"1"');
      const stored = (await read('ReferralRequest', ubrn))!;
      assert.equal(stored.version, 2);
      assert.equal(stateOf(stored.resource), 'BOOKED');
      assert.equal(await slotStatus(slot), 'busy');
      assert.ok(!(await freeSlots(ubrn)).includes(slot), 'no longer offered');
      assert.equal(await failures(ubrn), 0, 'the right password cleared the count in the booking');
      const again = await book(bookBody(password, '11000', slot), { headers });
      assert.equal(again.statusCode, 201, again.body);
      assert.deepEqual(again.json(), appointment, 'an X-Request-ID retry is answered as before');
      assert.equal((await read('ReferralRequest', ubrn))!.version, 2, 'and not applied again');
      refusedAs(
        'a second booking',
        await book(bookBody(password, '11000', other)),
        422,
        'INVALID_REQUEST_STATE',
      );

      // the professional API reads the same appointment; the audit names the patient as actor
      const a038 = await ers(platform, { url: `${STU3}/Appointment/${appointment.id}` });
      assert.equal(a038.statusCode, 200, a038.body);
      assert.equal(a038.json().status, 'booked');
      const booked = (await entries()).find(
        (e) =>
          e.record.action === 'ers.appointment.book' &&
          e.record.outcome === 'success' &&
          (e.record.detail as any)?.ubrn === ubrn,
      );
      assert.equal(booked?.record.actorKind, 'patient');
      assert.equal((booked?.record.detail as any).by, 'patient');
      assert.equal(booked?.record.patient, PATIENT);
      assert.ok(!booked?.recordJson.includes(password), 'the password is not audited');
    });

    it('the patient books a named clinician’s slot, the clinician coming with it; a deferred referral is the provider’s', async () => {
      const ubrn = await newReferral();
      const password = await letter(ubrn);
      const [named] = await freeSlots(ubrn, '11008');
      const res = await op(ubrn, 'bookAppointment', bookBody(password, '11008', named));
      assert.equal(res.statusCode, 201, res.body);
      const clinician = res
        .json()
        .participant.find((p: any) => p.actor.identifier.system.endsWith('sds-user-id'));
      assert.equal(clinician?.actor.identifier.value, '021600556514');

      // the referrer defers booking to the provider (a016): the patient may no longer book it
      const deferred = await newReferral(PATIENT, [...SHORTLIST, '11021']);
      const pw2 = await letter(deferred);
      const defer = await ers(platform, {
        method: 'POST',
        url: `${STU3}/Appointment`,
        body: appointmentBody('MinimalDeferral', deferred, 1),
      });
      assert.equal(defer.statusCode, 201, defer.body);
      const [slot] = await freeSlots(deferred);
      refusedAs(
        'a deferred referral',
        await op(deferred, 'bookAppointment', bookBody(pw2, '11000', slot)),
        422,
        'INVALID_REQUEST_STATE',
      );
      assert.equal(await slotStatus(slot), 'free');
    });

    it('the patient moves their appointment to another free slot of the service, the old one freed in the same commit', async () => {
      const ubrn = await newReferral();
      const password = await letter(ubrn);
      const move = (body: unknown, extra: object = {}) =>
        op(ubrn, 'changeAppointment', body, extra);
      const [first, second] = await freeSlots(ubrn);
      const [named] = await freeSlots(ubrn, '11008');
      refusedAs(
        'nothing booked yet',
        await move(moveBody(password, second)),
        422,
        'INVALID_REQUEST_STATE',
      );
      const booked = await op(ubrn, 'bookAppointment', bookBody(password, '11000', first));
      assert.equal(booked.statusCode, 201, booked.body);
      const taken = await newReferral(OTHER_PATIENT);
      const takenPw = await letter(taken);
      const [busy] = (await freeSlots(taken, '11000', otherPatientToken)).filter(
        (s: string) => s !== second,
      );
      assert.equal(
        (
          await op(taken, 'bookAppointment', bookBody(takenPw, '11000', busy), {
            token: otherPatientToken,
          })
        ).statusCode,
        201,
      );
      const bad: [string, unknown, number, string][] = [
        ['not Parameters', { resourceType: 'Bundle' }, 422, 'INVALID_FHIR_STRUCTURE'],
        ['no password', params(slotParam(second)), 422, 'MISSING_VALUE'],
        ['no slot', params(pw(password)), 422, 'MISSING_VALUE'],
        [
          'a bad slot reference',
          params(pw(password), { name: 'slot', valueReference: { reference: 'Slot/a b' } }),
          422,
          'INVALID_VALUE',
        ],
        [
          'a service parameter',
          params(pw(password), slotParam(second), { name: 'service', valueString: '11000' }),
          422,
          'UNEXPECTED_FIELD',
        ],
        ['the same slot', moveBody(password, first), 422, 'INAPPROPRIATE_SLOT'],
        ['a slot already booked', moveBody(password, busy), 422, 'SLOT_NOT_AVAILABLE'],
        ["another service's slot", moveBody(password, named), 422, 'INAPPROPRIATE_SLOT'],
        ['an unknown slot', moveBody(password, '11000-209901010900-1'), 422, 'REFERENCE_NOT_FOUND'],
      ];
      for (const [what, body, status, code] of bad) refusedAs(what, await move(body), status, code);
      refusedAs(
        'a wrong password',
        await move(moveBody('wrong-word-here', second)),
        403,
        'NO_ACCESS',
      );
      refusedAs(
        'another patient',
        await move(moveBody(password, second), { token: otherPatientToken }),
        403,
        'NO_ACCESS',
      );
      refusedAs(
        'staff',
        await move(moveBody(password, second), { token: staffToken }),
        403,
        'NO_ACCESS',
      );
      assert.equal((await read('ReferralRequest', ubrn))!.version, 2, 'unchanged');
      assert.equal(await failures(ubrn), 1);

      const headers = { 'x-request-id': randomUUID() };
      const moved = await move(moveBody(password, second), { headers });
      assert.equal(moved.statusCode, 200, moved.body);
      const appointment = moved.json();
      assert.equal(appointment.status, 'booked');
      assert.deepEqual(appointment.slot, [{ reference: `Slot/${second}` }]);
      assert.equal(appointment.start, (await read('Slot', second))!.resource.start);
      assert.equal(moved.headers.etag, 'W/"2"');
      const referral = (await read('ReferralRequest', ubrn))!;
      assert.equal(referral.version, 3);
      assert.equal(stateOf(referral.resource), 'BOOKED');
      assert.equal(await slotStatus(first), 'free', 'the old slot is free again');
      assert.equal(await slotStatus(second), 'busy');
      assert.equal(await failures(ubrn), 0);
      const again = await move(moveBody(password, second), { headers });
      assert.deepEqual(again.json(), appointment, 'an X-Request-ID retry is answered as before');
      assert.equal((await read('ReferralRequest', ubrn))!.version, 3);
    });

    it('the patient cancels their appointment with a patient’s reason; the slot is freed and the referral is NOT_BOOKED', async () => {
      const ubrn = await newReferral();
      const password = await letter(ubrn);
      const cancel = (body: unknown, extra: object = {}) =>
        op(ubrn, 'cancelAppointment', body, extra);
      refusedAs(
        'nothing booked yet',
        await cancel(cancelBody(password)),
        422,
        'INVALID_REQUEST_STATE',
      );
      const [slot] = await freeSlots(ubrn);
      assert.equal(
        (await op(ubrn, 'bookAppointment', bookBody(password, '11000', slot))).statusCode,
        201,
      );
      const bad: [string, unknown, number, string][] = [
        ['not Parameters', {}, 422, 'INVALID_FHIR_STRUCTURE'],
        [
          'no password',
          params({ name: 'reason', valueCoding: { system: REASONS, code: 'PATIENT_ILL' } }),
          422,
          'MISSING_VALUE',
        ],
        ['no reason', params(pw(password)), 422, 'MISSING_VALUE'],
        ["a provider's reason", cancelBody(password, 'CLINIC_CANCELLED'), 422, 'INVALID_CODE'],
        [
          'a retired reason',
          cancelBody(password, 'PATIENT_APPOINTMENT_CLASH'),
          422,
          'INVALID_CODE',
        ],
        ['an unknown reason', cancelBody(password, 'BORED'), 422, 'INVALID_CODE'],
        [
          'another code system',
          params(pw(password), {
            name: 'reason',
            valueCoding: { system: 'https://example.org/x', code: 'PATIENT_ILL' },
          }),
          422,
          'INVALID_CODE',
        ],
        [
          'a reason as a string',
          params(pw(password), { name: 'reason', valueString: 'PATIENT_ILL' }),
          422,
          'INVALID_CODE',
        ],
        [
          'other, without comments',
          cancelBody(password, 'PATIENT_APPOINTMENT_CANCELLATION_OTHER'),
          422,
          'MISSING_VALUE',
        ],
        [
          'blank comments where required',
          cancelBody(password, 'PATIENT_OTHER_ENGAGEMENT', ' '),
          422,
          'MISSING_VALUE',
        ],
        [
          'comments not a string',
          params(
            pw(password),
            { name: 'reason', valueCoding: { system: REASONS, code: 'PATIENT_ILL' } },
            { name: 'comments', valueInteger: 3 },
          ),
          422,
          'INVALID_VALUE',
        ],
        [
          'comments too long',
          cancelBody(password, 'PATIENT_ILL', 'x'.repeat(2001)),
          422,
          'INVALID_VALUE',
        ],
      ];
      for (const [what, body, status, code] of bad)
        refusedAs(what, await cancel(body), status, code);
      refusedAs('a wrong password', await cancel(cancelBody('wrong-word-here')), 403, 'NO_ACCESS');
      refusedAs(
        'another patient',
        await cancel(cancelBody(password), { token: otherPatientToken }),
        403,
        'NO_ACCESS',
      );
      refusedAs(
        'staff',
        await cancel(cancelBody(password), { token: staffToken }),
        403,
        'NO_ACCESS',
      );
      assert.equal(await slotStatus(slot), 'busy', 'still booked');

      const headers = { 'x-request-id': randomUUID() };
      const done = await cancel(
        cancelBody(password, 'PATIENT_OTHER_ENGAGEMENT', 'A job interview'),
        { headers },
      );
      assert.equal(done.statusCode, 200, done.body);
      const appointment = done.json();
      assert.equal(appointment.status, 'cancelled');
      assert.equal(appointment.reason[0].coding[0].code, 'PATIENT_OTHER_ENGAGEMENT');
      assert.equal(appointment.comment, 'A job interview');
      const referral = (await read('ReferralRequest', ubrn))!;
      assert.equal(stateOf(referral.resource), 'NOT_BOOKED');
      assert.equal(await slotStatus(slot), 'free', 'the slot is freed');
      assert.equal(await failures(ubrn), 0);
      const retry = cancelBody(password, 'PATIENT_OTHER_ENGAGEMENT', 'A job interview');
      assert.deepEqual(
        (await cancel(retry, { headers })).json(),
        appointment,
        'a retry is answered as before',
      );
      refusedAs(
        'cancelled already',
        await cancel(cancelBody(password)),
        422,
        'INVALID_REQUEST_STATE',
      );
      refusedAs(
        'changing a cancelled appointment',
        await op(ubrn, 'changeAppointment', moveBody(password, slot)),
        422,
        'INVALID_REQUEST_STATE',
      );

      // the patient books again after cancelling: the referral's second appointment
      const rebooked = await op(ubrn, 'bookAppointment', bookBody(password, '11000', slot));
      assert.equal(rebooked.statusCode, 201, rebooked.body);
      assert.equal(rebooked.json().id, `${ubrn}-2`);
      const cancelled = (await entries()).find(
        (e) =>
          e.record.action === 'ers.appointment.book' &&
          (e.record.detail as any)?.reason === 'PATIENT_OTHER_ENGAGEMENT',
      );
      assert.equal(cancelled?.record.actorKind, 'patient');
    });

    it('two patients race for the last slot: exactly one books it, the other is told it is no longer available', async () => {
      const ubrns = [
        await newReferral(PATIENT, ['12000']),
        await newReferral(OTHER_PATIENT, ['12000']),
      ];
      const passwords = [await letter(ubrns[0]), await letter(ubrns[1])];
      const [last] = await freeSlots(ubrns[0], '12000');
      assert.deepEqual(await freeSlots(ubrns[1], '12000', otherPatientToken), [last]);
      const answers = await Promise.all([
        op(ubrns[0], 'bookAppointment', bookBody(passwords[0], '12000', last)),
        op(ubrns[1], 'bookAppointment', bookBody(passwords[1], '12000', last), {
          token: otherPatientToken,
        }),
      ]);
      const codes = answers.map((a) =>
        a.statusCode === 201 ? 'BOOKED' : a.json().issue[0].details.coding[0].code,
      );
      assert.deepEqual([...codes].sort(), ['BOOKED', 'SLOT_NOT_AVAILABLE'], JSON.stringify(codes));
      const loser = ubrns[codes.indexOf('SLOT_NOT_AVAILABLE')];
      assert.equal(answers[codes.indexOf('SLOT_NOT_AVAILABLE')].statusCode, 422);
      assert.equal(
        (await read('ReferralRequest', loser))!.version,
        1,
        "the loser's referral unchanged",
      );
      assert.equal(await read('Appointment', `${loser}-1`), null);
      assert.equal(await slotStatus(last), 'busy');
    });

    it('a patient booking whose slot is taken between its read and its commit writes nothing, not even the cleared count', async () => {
      // both patients read the last slot free before either commits: the store refuses the second
      const [mine, theirs] = [
        await newReferral(PATIENT, ['12000']),
        await newReferral(OTHER_PATIENT, ['12000']),
      ];
      const repo = platform.repo;
      const other = await platform.token('R8000', { org: OTHER_PROVIDER, user: 'other' });
      const pub = await platform.request({
        method: 'POST',
        url: `${MANAGE}/Slot/$publish`,
        body: slotRun('12000', { days: 1, times: ['18:00'] }),
        token: other,
      });
      assert.equal(pub.statusCode, 201, pub.body);
      const last = (await freeSlots(mine, '12000')).find((id: string) => /1800-/.test(id))!;
      assert.ok(last, 'the 18:00 slot is free');
      const [pwMine, pwTheirs] = [await letter(mine), await letter(theirs)];
      // a wrong password first: the winner's commit clears it, the loser's must not
      refusedAs(
        'wrong',
        await op(theirs, 'bookAppointment', bookBody('wrong-word-here', '12000', last), {
          token: otherPatientToken,
        }),
        403,
        'NO_ACCESS',
      );
      let waiting: (() => void) | undefined;
      let arrived = 0;
      const barrier = new Promise<void>((resolve) => (waiting = resolve));
      const racing: ResourceStore = Object.create(repo, {
        read: {
          value: async (type: string, id: string) => {
            const got = await repo.read(type, id);
            if (type === 'Slot' && id === last && ++arrived <= 2) {
              if (arrived === 2) waiting!();
              await barrier;
            }
            return got;
          },
        },
        commit: { value: (batch: WriteBatch) => repo.commit(batch) },
      });
      const service = new BookingService(racing, new AuditWriter(repo));
      const results = await Promise.allSettled([
        service.bookForPatient(patientCtx(PATIENT), PATIENT, mine, bookBody(pwMine, '12000', last)),
        service.bookForPatient(
          patientCtx(OTHER_PATIENT),
          OTHER_PATIENT,
          theirs,
          bookBody(pwTheirs, '12000', last),
        ),
      ]);
      assert.equal(arrived >= 2, true, 'both read the slot before either committed');
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected') as PromiseRejectedResult[];
      assert.equal(won.length, 1);
      assert.equal(lost.length, 1);
      assert.equal(lost[0].reason.status, 422);
      assert.equal(lost[0].reason.ersCode, 'SLOT_NOT_AVAILABLE');
      const loser = results[0].status === 'rejected' ? mine : theirs;
      assert.equal(
        (await read('ReferralRequest', loser))!.version,
        1,
        'nothing written for the loser',
      );
      assert.equal(await read('Appointment', `${loser}-1`), null);
      if (loser === theirs)
        assert.equal(await failures(theirs), 1, "the loser's count is not cleared");
      else
        assert.equal(await failures(theirs), 0, "the winner's count is cleared with its booking");
    });

    it('wrong passwords lock the referral for booking, changing and cancelling; the lock survives a restart', async () => {
      const ubrn = await newReferral();
      const password = await letter(ubrn);
      const [slot, other] = await freeSlots(ubrn);
      assert.equal(
        (await op(ubrn, 'bookAppointment', bookBody(password, '11000', slot))).statusCode,
        201,
      );
      const wrongs = [
        'bookAppointment',
        'changeAppointment',
        'cancelAppointment',
        'changeAppointment',
      ];
      const wrongBody = (name: string) =>
        name === 'cancelAppointment'
          ? cancelBody('wrong-word-here')
          : name === 'changeAppointment'
            ? moveBody('wrong-word-here', other)
            : bookBody('wrong-word-here', '11000', other);
      for (const [i, name] of wrongs.entries()) {
        const res = await op(ubrn, name, wrongBody(name));
        refusedAs(`wrong password ${i + 1}`, res, 403, 'NO_ACCESS');
        assert.match(res.json().issue[0].diagnostics, new RegExp(`${4 - i} attempt`));
      }
      refusedAs(
        'the fifth wrong password',
        await op(ubrn, 'cancelAppointment', cancelBody('wrong-word-here')),
        423,
        'NO_ACCESS',
      );
      refusedAs(
        'locked: book',
        await op(ubrn, 'bookAppointment', bookBody(password, '11000', other)),
        423,
        'NO_ACCESS',
      );
      refusedAs(
        'locked: change',
        await op(ubrn, 'changeAppointment', moveBody(password, other)),
        423,
        'NO_ACCESS',
      );
      refusedAs(
        'locked: cancel',
        await op(ubrn, 'cancelAppointment', cancelBody(password)),
        423,
        'NO_ACCESS',
      );
      assert.equal(await slotStatus(slot), 'busy', 'the appointment stands');
      assert.equal((await read('ReferralRequest', ubrn))!.version, 2);

      // the platform stops and starts again on the same store: still locked
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
      const res = await app.inject({
        method: 'POST',
        url: `${BASE}/${ubrn}/$ers.cancelAppointment`,
        headers: {
          authorization: `Bearer ${patientToken}`,
          'content-type': 'application/fhir+json',
          'x-request-id': randomUUID(),
        },
        payload: JSON.stringify(cancelBody(password)),
      });
      refusedAs('locked after a restart', res, 423, 'NO_ACCESS');
      assert.equal((await repo.read('Slot', slot))!.resource.status, 'busy');
    });
  });
}
