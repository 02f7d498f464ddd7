/**
 * e-RS booking on both stores, through the whole platform: a provider publishes slots (management
 * API), a015 finds them, a016 books one (and defers or sends for triage), a038 reads the
 * appointment, a034 cancels or moves it, a022 cancels it for the provider to action later, a036
 * frees its slot; every refusal in eRS's words, bad input of every field a 4xx, X-Request-ID replay.
 * Request bodies are the published sandbox examples (test/fixtures/ers/published/, SOURCES.md).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import type { DeliveredMessage } from '../src/messaging/types.js';
import { AuditWriter } from '../src/audit/audit-writer.js';
import type { RequestContext } from '../src/context.js';
import { BookingService } from '../src/services/referrals/booking-service.js';
import type { ResourceStore, WriteBatch } from '../src/store/resource-store.js';
import { commitPatients, currentJane, withNhsNumber } from './helpers/pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';
import {
  addErsServices,
  appointmentBody,
  createBody,
  OTHER_PROVIDER,
  PROVIDER,
  published,
  PUBLISHED_PATIENT,
  REFERRER,
  slotRun,
} from './helpers/ers-booking.js';

const STU3 = '/referrals/FHIR/STU3';
const MANAGE = '/referrals/manage';
const ERS_CODES = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-APIErrorCode-1';

function assertErs(res: LightMyRequestResponse, status: number, code: string): any {
  assert.equal(res.statusCode, status, res.body);
  const outcome = res.json();
  assert.equal(outcome.resourceType, 'OperationOutcome', res.body);
  assert.equal(outcome.issue[0].details.coding[0].system, ERS_CODES);
  assert.equal(outcome.issue[0].details.coding[0].code, code, res.body);
  assert.ok(outcome.issue[0].diagnostics);
  return outcome;
}

const stateOf = (referral: any): string =>
  referral.extension
    .find((e: any) => e.url.endsWith('Extension-eRS-ReferralState-1'))
    .extension.find((e: any) => e.url === 'state').valueCoding.code;

for (const kind of await storesUnderTest()) {
  describe(`e-RS booking (${kind})`, () => {
    let platform: TestPlatform;
    let provider: string, otherProvider: string, otherReferrer: string;
    const events: DeliveredMessage[] = [];

    before(async () => {
      platform = await startTestPlatform(kind, {
        extraRoutes: (app) =>
          app.bus.consume(
            { name: 'test.ers-booking', topics: ['ers.referral.*'], retryDelayMs: 10 },
            async (m) => {
              events.push(m);
            },
          ),
      });
      await commitPatients(platform.repo, [withNhsNumber(currentJane(), PUBLISHED_PATIENT)]);
      await addErsServices(platform.repo);
      provider = await platform.token('R8000', { org: PROVIDER, user: 'provider-clinician' });
      otherProvider = await platform.token('R8000', {
        org: OTHER_PROVIDER,
        user: 'other-provider',
      });
      otherReferrer = await platform.token('R8000', { org: 'B82001', user: 'other-referrer' });
    });
    after(() => platform.close());

    const ers = (opts: {
      method?: string;
      url: string;
      body?: unknown;
      headers?: Record<string, string>;
      businessFunction?: string | null;
      ods?: string;
      token?: string;
      requestId?: string;
    }) => {
      const headers: Record<string, string> = {};
      if (opts.businessFunction !== null)
        headers['nhsd-ers-business-function'] = opts.businessFunction ?? 'REFERRING_CLINICIAN';
      headers['nhsd-end-user-organisation-ods'] = opts.ods ?? REFERRER;
      if (opts.requestId) headers['x-request-id'] = opts.requestId;
      return platform.request({
        method: opts.method ?? 'GET',
        url: opts.url,
        body: opts.body,
        token: opts.token,
        headers: { ...headers, ...opts.headers },
      });
    };
    const asProvider = { token: '', ods: PROVIDER, businessFunction: 'SERVICE_PROVIDER_CLINICIAN' };
    const providerCall = () => ({ ...asProvider, token: provider });
    const publish = (body: unknown, token = provider) =>
      platform.request({ method: 'POST', url: `${MANAGE}/Slot/$publish`, body, token });
    const slots = (query: string, extra: object = {}) =>
      ers({ url: `${STU3}/Slot?${query}`, headers: { 'nhsd-ers-comm-rule-org': 'R69' }, ...extra });
    const freeSlots = async (service: string, priority = 'URGENT', count = 100) => {
      const res = await slots(
        `schedule.actor:HealthcareService=${service}&appointmentType=${priority}&status=free&_count=${count}&page=1`,
      );
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    };
    const slotIds = (bundle: any): string[] =>
      bundle.entry
        .filter((e: any) => e.resource.resourceType === 'Slot')
        .map((e: any) => e.resource.id);
    const newReferral = async (services?: string[]) => {
      const res = await ers({
        method: 'POST',
        url: `${STU3}/ReferralRequest/$ers.createReferral`,
        body: createBody(services),
      });
      assert.equal(res.statusCode, 201, res.body);
      return res.json().id as string;
    };
    const book = (body: unknown, extra: object = {}) =>
      ers({ method: 'POST', url: `${STU3}/Appointment`, body, ...extra });
    const referral = async (ubrn: string) =>
      (await ers({ url: `${STU3}/ReferralRequest/${ubrn}` })).json();

    it('publishes a run of slots for the provider, idempotently, and only for its own bookable services', async () => {
      const first = await publish(slotRun('11000'));
      assert.equal(first.statusCode, 201, first.body);
      assert.deepEqual(first.json(), { service: '11000', published: 6, alreadyPublished: 0 });
      const again = await publish(slotRun('11000'));
      assert.equal(again.statusCode, 200, again.body);
      assert.deepEqual(again.json(), { service: '11000', published: 0, alreadyPublished: 6 });
      const named = await publish(
        slotRun('11008', { clinician: '021600556514', times: ['13:15'] }),
      );
      assert.equal(named.json().published, 2, named.body);
      assert.equal((await publish(slotRun('12000'), otherProvider)).statusCode, 201);

      assertErs(await publish(slotRun('11000'), otherProvider), 403, 'NO_ACCESS');
      assertErs(await publish(slotRun('50001')), 422, 'INAPPROPRIATE_VALUE');
      assertErs(await publish(slotRun('11030')), 422, 'INAPPROPRIATE_VALUE');
      assertErs(await publish(slotRun('99999')), 422, 'REFERENCE_NOT_FOUND');
      const bad: [string, unknown][] = [
        ['not an object', []],
        ['an unknown field', slotRun('11000', { colour: 'red' })],
        ['no service', { ...slotRun('11000'), service: undefined }],
        ['a bad date', slotRun('11000', { from: '2026-13-45' })],
        ['zero days', slotRun('11000', { days: 0 })],
        ['too many days', slotRun('11000', { days: 1000 })],
        ['no times', slotRun('11000', { times: [] })],
        ['a bad time', slotRun('11000', { times: ['25:00'] })],
        ['a time twice', slotRun('11000', { times: ['09:00', '09:00'] })],
        ['a short duration', slotRun('11000', { durationMinutes: 1 })],
        ['a fractional capacity', slotRun('11000', { capacity: 1.5 })],
        ['a bad priority', slotRun('11000', { priorities: ['SOON'] })],
        ['a bad clinician', slotRun('11000', { clinician: 'dr who' })],
        ['weekdaysOnly not boolean', slotRun('11000', { weekdaysOnly: 'yes' })],
      ];
      for (const [what, body] of bad) {
        const res = await publish(body);
        assert.ok(res.statusCode === 422, `${what}: ${res.statusCode} ${res.body}`);
        assertErs(res, 422, 'INVALID_VALUE');
      }
      // a role without ers.slot.publish is refused by the platform's policy
      const nurse = await platform.token('R8001', { org: PROVIDER });
      assert.equal((await publish(slotRun('11000'), nurse)).statusCode, 403);
    });

    it('a015 finds free future slots a page at a time, with their schedules, as published', async () => {
      const all = await freeSlots('11000');
      assert.equal(all.total, 6);
      const page1 = await slots(
        'schedule.actor:HealthcareService=11000&appointmentType=URGENT&_count=4&status=free&_include=Slot:schedule&page=1',
      );
      assert.equal(page1.statusCode, 200, page1.body);
      const b = page1.json();
      const shape = published('retrieveAppointmentSlots-Page1PageSize5.json');
      assert.equal(b.resourceType, shape.resourceType);
      assert.equal(b.type, 'searchset');
      assert.deepEqual(b.meta.profile, shape.meta.profile);
      assert.equal(b.total, 6);
      assert.deepEqual(
        b.link.map((l: any) => l.relation),
        ['self', 'next'],
      );
      assert.match(
        b.link[1].url,
        /schedule\.actor%3AHealthcareService=11000&appointmentType=URGENT&_count=4&status=free&_include=Slot%3Aschedule&page=2$/,
      );
      const ids = slotIds(b);
      assert.equal(ids.length, 4);
      const starts = b.entry.slice(0, 4).map((e: any) => e.resource.start);
      assert.deepEqual([...starts].sort(), starts, 'earliest first');
      const slot = b.entry[0].resource;
      assert.deepEqual(Object.keys(slot).sort(), Object.keys(shape.entry[0].resource).sort());
      assert.equal(slot.status, 'free');
      assert.deepEqual(slot.meta.profile, shape.entry[0].resource.meta.profile);
      const schedule = b.entry.find((e: any) => e.search.mode === 'include').resource;
      assert.equal(schedule.resourceType, 'Schedule');
      assert.equal(schedule.actor[0].identifier.value, '11000');
      assert.equal(`Schedule/${schedule.id}`, slot.schedule.reference);
      assert.ok(!JSON.stringify(b).includes('openspine.dev'), 'internal facts hidden');
      const page2 = (
        await slots(
          'schedule.actor:HealthcareService=11000&appointmentType=URGENT&_count=4&status=free&page=2',
        )
      ).json();
      assert.deepEqual(
        page2.link.map((l: any) => l.relation),
        ['self', 'previous'],
      );
      assert.equal(slotIds(page2).length, 2);

      // the published page-out-of-range refusal
      const out = await slots(
        'schedule.actor:HealthcareService=11000&appointmentType=URGENT&_count=4&status=free&page=5',
      );
      const outcome = assertErs(out, 400, 'INVALID_VALUE');
      assert.equal(
        outcome.issue[0].diagnostics,
        published('retrieveAppointmentSlots-ErrorPage5.json').issue[0].diagnostics,
      );
      // no slots: an empty page 1
      const none = await freeSlots('11021');
      assert.equal(none.total, 0);
      assert.deepEqual(none.entry, []);
      // a named clinician's slots, with the clinician on their schedule
      const named = await slots(
        'schedule.actor:HealthcareService=11008&schedule.actor:Practitioner=021600556514&appointmentType=URGENT&_count=5&status=free&page=1',
      );
      assert.equal(named.json().total, 2, named.body);
      const sched = named.json().entry.find((e: any) => e.search.mode === 'include').resource;
      assert.deepEqual(sched.actor[1].identifier, {
        system: 'http://fhir.nhs.net/Id/sds-user-id',
        value: '021600556514',
      });
      assert.equal(
        (
          await slots(
            'schedule.actor:HealthcareService=11008&schedule.actor:Practitioner=1&appointmentType=URGENT&_count=5&status=free&page=1',
          )
        ).json().total,
        0,
      );
      assert.equal((await freeSlots('11008')).total, 2, 'a named clinician slot is counted once');
      // other priorities: the run offered the service's own (ROUTINE and URGENT), not TWO_WEEK_WAIT
      assert.equal((await freeSlots('11000', 'ROUTINE')).total, 6);
      assert.equal((await freeSlots('11000', 'TWO_WEEK_WAIT')).total, 0);
    });

    it('a015 refuses bad queries, headers and services in eRS words (400), never a 500', async () => {
      const q =
        'schedule.actor:HealthcareService=11000&appointmentType=URGENT&status=free&_count=5&page=1';
      const without = (name: string) =>
        q
          .split('&')
          .filter((p) => !p.startsWith(name + '='))
          .join('&');
      for (const name of [
        'schedule.actor:HealthcareService',
        'appointmentType',
        'status',
        '_count',
        'page',
      ])
        assertErs(await slots(without(name)), 400, 'MISSING_PARAMETER');
      assertErs(await slots(q.replace('URGENT', 'SOON')), 400, 'INVALID_CODE');
      assertErs(await slots(q.replace('status=free', 'status=busy')), 400, 'INVALID_CODE');
      for (const count of ['0', '101', 'x', '-1'])
        assertErs(await slots(q.replace('_count=5', `_count=${count}`)), 400, 'INVALID_VALUE');
      for (const page of ['0', 'x'])
        assertErs(await slots(q.replace('page=1', `page=${page}`)), 400, 'INVALID_VALUE');
      assertErs(await slots(q + '&_include=Slot:other'), 400, 'INVALID_VALUE');
      assertErs(await slots(q + '&page=2'), 400, 'INVALID_VALUE');
      assertErs(await slots(q + '&colour=red'), 400, 'INVALID_VALUE');
      assertErs(await slots(q + '&schedule.actor:Practitioner=abc'), 400, 'INVALID_VALUE');
      assertErs(await slots(q.replace('11000', '%3Cscript%3E')), 400, 'INVALID_VALUE');
      assertErs(await slots(q.replace('11000', '99999')), 400, 'REFERENCE_NOT_FOUND');
      assertErs(await slots(q.replace('11000', '50001')), 400, 'INVALID_STATE');
      assertErs(await ers({ url: `${STU3}/Slot?${q}` }), 400, 'MISSING_HEADER');
      assertErs(
        await slots(q, { businessFunction: 'SERVICE_PROVIDER_CLINICIAN' }),
        403,
        'NO_ACCESS',
      );
      assertErs(await slots(q, { ods: 'B82001' }), 403, 'NO_ACCESS');
      assertErs(await slots(q, { businessFunction: null }), 400, 'MISSING_HEADER');
    });

    it('a016 books a free slot: referral BOOKED, appointment as published, slot gone, provider sees it; a retry answers the same', async () => {
      const ubrn = await newReferral();
      const [slot] = slotIds(await freeSlots('11000'));
      const requestId = randomUUID();
      const body = appointmentBody('MinimalBooking', ubrn, 1, { slot });
      const res = await book(body, { requestId });
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.headers.etag, 'W/"1"');
      const a = res.json();
      assert.equal(a.resourceType, 'Appointment');
      assert.equal(a.id, `${ubrn}-1`);
      assert.equal(a.status, 'booked');
      assert.equal(a.meta.versionId, '1');
      assert.equal(a.description, 'e-Referral Appointment');
      assert.deepEqual(a.slot, [{ reference: `Slot/${slot}` }]);
      assert.ok(a.start && a.end && a.created);
      assert.deepEqual(a.incomingReferral, [{ reference: `ReferralRequest/${ubrn}/_history/2` }]);
      assert.equal(a.participant[0].actor.display, 'Forthright Cardiology Business Service');
      assert.equal(a.participant[1].actor.identifier.value, PUBLISHED_PATIENT);

      const r = await referral(ubrn);
      assert.equal(stateOf(r), 'BOOKED');
      assert.equal(r.meta.versionId, '2');
      assert.deepEqual(
        r.extension.find((e: any) => e.url.endsWith('Extension-eRS-Appointment-Reference-1'))
          .valueReference,
        { reference: `Appointment/${a.id}` },
      );
      assert.ok(
        !slotIds(await freeSlots('11000')).includes(slot),
        'the booked slot is no longer offered',
      );

      // the same X-Request-ID again: the same answer, nothing booked twice
      const retry = await book(body, { requestId });
      assert.equal(retry.statusCode, 201, retry.body);
      assert.deepEqual(retry.json(), a);
      assert.equal((await referral(ubrn)).meta.versionId, '2');

      // the provider now sees the referral and its appointment; another organisation does not
      const read = await ers({ url: `${STU3}/Appointment/${a.id}`, ...providerCall() });
      assert.equal(read.statusCode, 200, read.body);
      assert.deepEqual(read.json(), a);
      assert.equal(read.headers.etag, 'W/"1"');
      assert.equal(
        (await ers({ url: `${STU3}/ReferralRequest/${ubrn}`, ...providerCall() })).statusCode,
        200,
      );
      assert.equal((await ers({ url: `${STU3}/Appointment/${a.id}` })).statusCode, 200);
      assert.equal((await ers({ url: `${STU3}/Appointment/${a.id}/_history/1` })).statusCode, 200);
      assertErs(await ers({ url: `${STU3}/Appointment/${a.id}/_history/2` }), 404, 'REC_NOT_FOUND');
      assertErs(await ers({ url: `${STU3}/Appointment/${a.id}/_history/x` }), 400, 'INVALID_VALUE');
      assertErs(
        await ers({ url: `${STU3}/Appointment/${a.id}`, token: otherReferrer, ods: 'B82001' }),
        403,
        'NO_ACCESS',
      );
      assertErs(await ers({ url: `${STU3}/Appointment/${ubrn}-9` }), 404, 'REC_NOT_FOUND');
      assertErs(await ers({ url: `${STU3}/Appointment/70000` }), 400, 'INVALID_VALUE');
      assertErs(
        await ers({ url: `${STU3}/Appointment/${a.id}`, businessFunction: 'BOOKING_MANAGER' }),
        403,
        'NO_ACCESS',
      );

      // the slot cannot be booked again, by another referral
      const second = await newReferral();
      assertErs(
        await book(appointmentBody('MinimalBooking', second, 1, { slot })),
        422,
        'SLOT_NOT_AVAILABLE',
      );
      // nor can the booked referral book again (its state), nor at a stale version
      const next = slotIds(await freeSlots('11000'))[0];
      assertErs(
        await book(appointmentBody('MinimalBooking', ubrn, 2, { slot: next })),
        422,
        'INVALID_REQUEST_STATE',
      );
      assertErs(
        await book(appointmentBody('MinimalBooking', ubrn, 1, { slot: next })),
        409,
        'VERSION_MISMATCH',
      );

      // booked, audited and announced
      const audit = (await platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      assert.ok(
        audit.some((x) => x.action === 'ers.appointment.book' && x.patient === PUBLISHED_PATIENT),
      );
      assert.ok(audit.some((x) => x.action === 'ers.appointment.read' && x.org === PROVIDER));
      for (
        let i = 0;
        i < 200 &&
        !events.some((e) => (e.body as any).ubrn === ubrn && e.topic === 'ers.referral.booked');
        i++
      )
        await new Promise((res) => setTimeout(res, 25));
      const booked = events.find(
        (e) => (e.body as any).ubrn === ubrn && e.topic === 'ers.referral.booked',
      );
      assert.ok(booked, 'ers.referral.booked published');
      assert.deepEqual((booked!.body as any).providers, [PROVIDER]);
    });

    it('a016 refuses every wrong booking in eRS words and changes nothing', async () => {
      const ubrn = await newReferral();
      const [slot] = slotIds(await freeSlots('11000'));
      const [otherSlot] = slotIds(await freeSlots('12000'));
      const body = (mutate: (b: any) => void = () => {}) => {
        const b = appointmentBody('MinimalBooking', ubrn, 1, { slot });
        mutate(b);
        return b;
      };
      const cases: [string, unknown, number, string][] = [
        [
          'a slot of another service',
          body((b) => (b.slot = [{ reference: `Slot/${otherSlot}` }])),
          422,
          'INAPPROPRIATE_SLOT',
        ],
        [
          'an unknown slot',
          body((b) => (b.slot = [{ reference: 'Slot/11000021' }])),
          422,
          'REFERENCE_NOT_FOUND',
        ],
        ['no slot', body((b) => delete b.slot), 422, 'MISSING_VALUE'],
        [
          'a service not shortlisted',
          appointmentBody('MinimalBooking', '000000000000', 1, { slot }),
          404,
          'REC_NOT_FOUND',
        ],
        [
          'another patient',
          appointmentBody('MinimalBooking', ubrn, 1, { slot, nhs: '9000000009' }),
          422,
          'INAPPROPRIATE_VALUE',
        ],
        [
          'an indirectly bookable service',
          appointmentBody('MinimalBooking', ubrn, 1, { slot, service: '11030' }),
          422,
          'INAPPROPRIATE_VALUE',
        ],
        [
          'a triage service',
          appointmentBody('MinimalBooking', ubrn, 1, { slot, service: '50001' }),
          422,
          'INAPPROPRIATE_VALUE',
        ],
        [
          'an unknown service',
          appointmentBody('MinimalBooking', ubrn, 1, { slot, service: '99999' }),
          422,
          'INAPPROPRIATE_VALUE',
        ],
        [
          'a named-clinician slot without the clinician',
          appointmentBody('MinimalBooking', ubrn, 1, {
            slot: slotIds(await freeSlots('11008'))[0],
            service: '11008',
          }),
          422,
          'INAPPROPRIATE_SLOT',
        ],
        [
          'a stale version',
          appointmentBody('MinimalBooking', ubrn, 7, { slot }),
          409,
          'VERSION_MISMATCH',
        ],
        ['not an Appointment', { resourceType: 'Patient' }, 422, 'INVALID_FHIR_STRUCTURE'],
        ['an array', [], 422, 'INVALID_FHIR_STRUCTURE'],
        ['null', null, 422, 'INVALID_FHIR_STRUCTURE'],
        ['an unknown field', body((b) => (b.colour = 'red')), 422, 'UNEXPECTED_FIELD'],
        ['no status', body((b) => delete b.status), 422, 'MISSING_VALUE'],
        ['a bad status', body((b) => (b.status = 'arrived')), 422, 'INVALID_CODE'],
        ['cancelled', body((b) => (b.status = 'cancelled')), 422, 'INVALID_VALUE'],
        ['a bad description', body((b) => (b.description = 'x')), 422, 'INVALID_VALUE'],
        ['a bad start', body((b) => (b.start = 'soon')), 422, 'INVALID_VALUE'],
        ['a numeric comment', body((b) => (b.comment = 7)), 422, 'INVALID_VALUE'],
        ['no incomingReferral', body((b) => delete b.incomingReferral), 422, 'MISSING_VALUE'],
        [
          'incomingReferral not a list',
          body((b) => (b.incomingReferral = 'x')),
          422,
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'incomingReferral without version',
          body((b) => (b.incomingReferral = [{ reference: `ReferralRequest/${ubrn}` }])),
          422,
          'INVALID_VALUE',
        ],
        ['no participant', body((b) => delete b.participant), 422, 'MISSING_VALUE'],
        [
          'one participant',
          body((b) => (b.participant = [b.participant[0]])),
          422,
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'a participant of no kind',
          body((b) => (b.participant[0].actor.identifier.system = 'urn:x')),
          422,
          'INVALID_VALUE',
        ],
        [
          'a participant without identifier',
          body((b) => delete b.participant[1].actor),
          422,
          'INVALID_VALUE',
        ],
        ['two patients', body((b) => (b.participant[0] = b.participant[1])), 422, 'INVALID_VALUE'],
        [
          'a slot not a reference',
          body((b) => (b.slot = [{ reference: 'Patient/1' }])),
          422,
          'INVALID_VALUE',
        ],
        [
          'two slots',
          body((b) => (b.slot = [b.slot[0], b.slot[0]])),
          422,
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'a bad clinician type',
          body((b) =>
            b.participant.push({
              actor: { identifier: { system: 'http://fhir.nhs.net/Id/sds-user-id', value: '1' } },
              status: 'accepted',
            }),
          ),
          422,
          'INVALID_VALUE',
        ],
      ];
      for (const [what, b, status, code] of cases) {
        const res = await book(b);
        assert.ok(
          res.statusCode >= 400 && res.statusCode < 500,
          `${what}: ${res.statusCode} ${res.body}`,
        );
        assertErs(res, status, code);
      }
      const notJson = await book('{"resourceType": "Appointment", ');
      assert.ok(notJson.statusCode >= 400 && notJson.statusCode < 500, notJson.body);
      // wrong business function, another organisation, a provider booking what it does not hold
      assertErs(
        await book(body(), { businessFunction: 'SERVICE_PROVIDER_CLINICIAN' }),
        403,
        'NO_ACCESS',
      );
      assertErs(await book(body(), { ods: 'B82001' }), 403, 'NO_ACCESS');
      assertErs(await book(body(), { token: otherReferrer, ods: 'B82001' }), 403, 'NO_ACCESS');
      assertErs(
        await book(body(), {
          token: provider,
          ods: PROVIDER,
          businessFunction: 'SERVICE_PROVIDER_ADMIN',
        }),
        403,
        'NO_ACCESS',
      );
      const r = await referral(ubrn);
      assert.equal(r.meta.versionId, '1', 'nothing changed');
      assert.equal(stateOf(r), 'NOT_BOOKED');
      assert.ok(slotIds(await freeSlots('11000')).includes(slot), 'the slot is still free');
    });

    it('a016 books a named clinician slot, defers to the provider, and sends for triage', async () => {
      const ubrn = await newReferral();
      const [slot] = slotIds(await freeSlots('11008'));
      const named = await book(appointmentBody('BookingWithNamedClinician', ubrn, 1, { slot }));
      assert.equal(named.statusCode, 201, named.body);
      assert.equal(named.json().participant[2].actor.identifier.value, '021600556514');

      const deferred = await newReferral();
      // a service with free slots cannot be deferred to for want of slots
      assertErs(
        await book(appointmentBody('MinimalDeferral', deferred, 1, { service: '11000' })),
        422,
        'SLOTS_CURRENTLY_AVAILABLE',
      );
      const free = slotIds(await freeSlots('11000'))[0];
      assertErs(
        await book(appointmentBody('DeferralWithSlotReference', deferred, 1, { slot: free })),
        422,
        'THIS_SLOT_IS_AVAILABLE',
      );
      assertErs(
        await book(appointmentBody('TriageDeferral', deferred, 1, { service: '11021' })),
        422,
        'INAPPROPRIATE_VALUE',
      );
      const noReason = appointmentBody('MinimalDeferral', deferred, 1);
      delete noReason.reason;
      assertErs(await book(noReason), 422, 'MISSING_VALUE');
      const badReason = appointmentBody('MinimalDeferral', deferred, 1);
      badReason.reason[0].coding[0].code = 'BORED';
      assertErs(await book(badReason), 422, 'INVALID_CODE');
      const res = await book(appointmentBody('MinimalDeferral', deferred, 1));
      assert.equal(res.statusCode, 201, res.body);
      assert.equal(res.json().status, 'proposed');
      assert.equal(res.json().reason[0].coding[0].code, 'NO_SLOTS_AT_SERVICE');
      assert.equal(res.json().comment, 'There are no slots');
      assert.equal(stateOf(await referral(deferred)), 'DEFERRED_TO_PROVIDER');
      assert.equal(
        (await ers({ url: `${STU3}/ReferralRequest/${deferred}`, ...providerCall() })).statusCode,
        200,
      );

      const triaged = await newReferral();
      const t = await book(appointmentBody('TriageDeferral', triaged, 1));
      assert.equal(t.statusCode, 201, t.body);
      assert.equal(t.json().reason[0].coding[0].code, 'TRIAGE');
      assert.equal(stateOf(await referral(triaged)), 'AWAITING_TRIAGE');
      const sentFor = (ubrn: string) =>
        events.find((e) => (e.body as any).ubrn === ubrn && e.topic === 'ers.referral.sent');
      for (let i = 0; i < 200 && !sentFor(triaged); i++)
        await new Promise((r) => setTimeout(r, 25));
      assert.equal((sentFor(triaged)?.body as any)?.state, 'AWAITING_TRIAGE');
    });

    it('a034 cancels a booked appointment (slot free again) or moves it to another slot', async () => {
      const ubrn = await newReferral();
      const [first, second] = slotIds(await freeSlots('11000'));
      const booked = (
        await book(appointmentBody('MinimalBooking', ubrn, 1, { slot: first }))
      ).json();
      const put = (body: unknown, ifMatch?: number, extra: object = {}) =>
        ers({
          method: 'PUT',
          url: `${STU3}/Appointment/${booked.id}`,
          body,
          headers: ifMatch === undefined ? {} : { 'if-match': `W/"${ifMatch}"` },
          ...extra,
        });
      // move: the first slot freed and the second booked, in one commit
      const move = { ...booked, slot: [{ reference: `Slot/${second}` }] };
      delete move.meta;
      const moved = await put(move, 1);
      assert.equal(moved.statusCode, 200, moved.body);
      assert.equal(moved.headers.etag, 'W/"2"');
      assert.deepEqual(moved.json().slot, [{ reference: `Slot/${second}` }]);
      let free = slotIds(await freeSlots('11000'));
      assert.ok(free.includes(first) && !free.includes(second));
      assert.equal(stateOf(await referral(ubrn)), 'BOOKED');

      const cancel = (fixture: string, mutate: (b: any) => void = () => {}) => {
        const b = published(`updateAppointment-${fixture}.json`);
        b.id = booked.id;
        b.incomingReferral[0].reference = `ReferralRequest/${ubrn}/_history/3`;
        b.participant[0].actor.identifier.value = '11000';
        b.participant[1].actor.identifier.value = PUBLISHED_PATIENT;
        mutate(b);
        return b;
      };
      assertErs(
        await put(cancel('MinimalCancellationReasonOnlyCommentNotMandatory')),
        412,
        'MISSING_VALUE',
      );
      assertErs(
        await put(cancel('MinimalCancellationReasonOnlyCommentNotMandatory'), 1),
        409,
        'VERSION_MISMATCH',
      );
      const mandatory = assertErs(
        await put(cancel('CancellationReasonOnlyCommentMandatory'), 2),
        422,
        'MISSING_VALUE',
      );
      assert.equal(mandatory.issue[0].diagnostics, "'comment' is missing.");
      const wrong = assertErs(
        await put(cancel('CancellationInvalidReason'), 2),
        422,
        'INAPPROPRIATE_VALUE',
      );
      assert.equal(
        wrong.issue[0].diagnostics,
        "'reason' The reason provided is not valid in this case",
      );
      assertErs(
        await put(
          cancel(
            'MinimalCancellationReasonOnlyCommentNotMandatory',
            (b) => (b.reason[0].coding[0].system = 'urn:x'),
          ),
          2,
        ),
        422,
        'INVALID_VALUE',
      );
      assertErs(
        await put(
          cancel('MinimalCancellationReasonOnlyCommentNotMandatory', (b) => delete b.reason),
          2,
        ),
        422,
        'MISSING_VALUE',
      );
      assertErs(
        await put(cancel('MinimalCancellationReasonOnlyCommentNotMandatory'), 2, {
          businessFunction: 'SERVICE_PROVIDER_CLINICIAN',
          token: provider,
          ods: PROVIDER,
        }),
        403,
        'NO_ACCESS',
      );
      assertErs(
        await put(cancel('MinimalCancellationReasonOnlyCommentNotMandatory'), 2, {
          token: otherReferrer,
          ods: 'B82001',
        }),
        403,
        'NO_ACCESS',
      );
      assertErs(await put({ resourceType: 'Bundle' }, 2), 422, 'INVALID_FHIR_STRUCTURE');

      const done = await put(cancel('MinimalCancellationReasonOnlyCommentNotMandatory'), 2);
      assert.equal(done.statusCode, 200, done.body);
      assert.equal(done.json().status, 'cancelled');
      assert.equal(done.json().reason[0].coding[0].code, 'PATIENT_ILL');
      free = slotIds(await freeSlots('11000'));
      assert.ok(free.includes(first) && free.includes(second), 'both slots free');
      assert.equal(stateOf(await referral(ubrn)), 'NOT_BOOKED');
      assertErs(
        await put(cancel('MinimalCancellationReasonOnlyCommentNotMandatory'), 3),
        422,
        'INVALID_REQUEST_STATE',
      );
      // the referral may be booked again: a second appointment
      const again = await book(appointmentBody('MinimalBooking', ubrn, 4, { slot: first }));
      assert.equal(again.statusCode, 201, again.body);
      assert.equal(again.json().id, `${ubrn}-2`);
    });

    it('a022 lets the provider cancel to action later; a036 cancelling a booked referral frees its slot', async () => {
      const ubrn = await newReferral();
      const [slot] = slotIds(await freeSlots('11000'));
      const booked = (await book(appointmentBody('MinimalBooking', ubrn, 1, { slot }))).json();
      const caal = (body: unknown, ifMatch: number | undefined, extra: object = providerCall()) =>
        ers({
          method: 'POST',
          url: `${STU3}/ReferralRequest/${ubrn}/$ers.cancelAppointmentActionLater`,
          body,
          headers: ifMatch === undefined ? {} : { 'if-match': `W/"${ifMatch}"` },
          ...extra,
        });
      const body = published('cancelAppointmentActionLater-MinimalExampleDBS.json');
      assertErs(await caal(body, 2, {}), 403, 'NO_ACCESS');
      assertErs(
        await caal(body, 2, { ...providerCall(), token: otherProvider, ods: OTHER_PROVIDER }),
        403,
        'NO_ACCESS',
      );
      assertErs(await caal(body, undefined), 412, 'MISSING_VALUE');
      assertErs(await caal(body, 1), 409, 'VERSION_MISMATCH');
      assertErs(await caal({ resourceType: 'Parameters', parameter: [] }, 2), 422, 'MISSING_VALUE');
      assertErs(
        await caal({ resourceType: 'Parameters', parameter: [{ name: 'x' }] }, 2),
        422,
        'UNEXPECTED_FIELD',
      );
      assertErs(
        await caal(
          {
            ...body,
            parameter: [
              ...body.parameter,
              { name: 'priority', valueCoding: { system: 'x', code: 'URGENT' } },
            ],
          },
          2,
        ),
        422,
        'INVALID_CODE',
      );
      assertErs(
        await caal(
          {
            ...body,
            parameter: [
              ...body.parameter,
              { name: 'appointmentCancelledInPAS', valueBoolean: true },
            ],
          },
          2,
        ),
        422,
        'FIELD_NOT_PERMITTED',
      );
      assertErs(await caal('[]', 2), 422, 'INVALID_FHIR_STRUCTURE');
      const res = await caal(body, 2);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers.etag, 'W/"3"');
      // as the published example answers: the provider now holds the action
      assert.equal(stateOf(res.json()), 'TRIAGED_PROVIDER_TO_ACTION');
      const state = res.json().extension.find((e: any) => e.url.endsWith('ReferralState-1'));
      assert.equal(
        state.extension.find((e: any) => e.url === 'reason').valueCoding.code,
        'CANCEL_APPOINTMENT_ACTION_LATER',
      );
      assert.equal(
        state.extension.find((e: any) => e.url === 'comments').valueString,
        'Please contact patient to rebook',
      );
      const a = (await ers({ url: `${STU3}/Appointment/${booked.id}` })).json();
      assert.equal(a.status, 'proposed');
      assert.equal(a.reason[0].coding[0].code, 'CANCEL_APPOINTMENT_ACTION_LATER');
      assert.equal(a.slot, undefined);
      assert.ok(slotIds(await freeSlots('11000')).includes(slot), 'slot freed');
      assertErs(await caal(body, 3), 422, 'INVALID_REQUEST_STATE');

      // cancelling a booked referral: the appointment cancelled, its slot free again
      const other = await newReferral();
      const [s2] = slotIds(await freeSlots('11000'));
      const b2 = (await book(appointmentBody('MinimalBooking', other, 1, { slot: s2 }))).json();
      const cancelled = await ers({
        method: 'POST',
        url: `${STU3}/ReferralRequest/${other}/$ers.cancelReferral`,
        body: published('cancelReferral-NoLongerRequired.json'),
        headers: { 'if-match': 'W/"2"' },
      });
      assert.equal(cancelled.statusCode, 200, cancelled.body);
      assert.ok(slotIds(await freeSlots('11000')).includes(s2), 'slot freed with the referral');
      assert.equal((await ers({ url: `${STU3}/Appointment/${b2.id}` })).json().status, 'cancelled');
    });

    it('a booking whose slot is taken between its read and its commit is refused by the store, nothing written', async () => {
      const ubrn = await newReferral();
      const [slot] = slotIds(await freeSlots('11000'));
      // another process books the slot after this booking read it free: the store must refuse the commit
      const repo = platform.repo;
      let raced = false;
      const racing: ResourceStore = Object.create(repo, {
        commit: {
          value: async (batch: WriteBatch) => {
            const write = batch.resources?.find((r) => r.type === 'Slot');
            if (write && !raced) {
              raced = true;
              const current = (await repo.read('Slot', slot))!;
              await repo.commit({
                resources: [
                  {
                    ...write,
                    expectedVersion: current.version,
                    resource: { ...current.resource, status: 'busy' },
                  },
                ],
              });
            }
            return repo.commit(batch);
          },
        },
      });
      const service = new BookingService(racing, new AuditWriter(repo));
      const ctx: RequestContext = {
        requestId: randomUUID(),
        principal: { kind: 'user', userId: 'gp', role: 'R8000', org: REFERRER } as never,
      };
      const caller = { businessFunction: 'REFERRING_CLINICIAN', ods: REFERRER };
      await assert.rejects(
        service.bookOrDefer(ctx, caller, appointmentBody('MinimalBooking', ubrn, 1, { slot })),
        (err: any) => err.status === 422 && err.ersCode === 'SLOT_NOT_AVAILABLE',
      );
      assert.ok(raced, 'the slot was taken between read and commit');
      const r = await referral(ubrn);
      assert.equal(r.meta.versionId, '1', 'the referral unchanged');
      assert.equal(stateOf(r), 'NOT_BOOKED');
      assert.equal(await repo.read('Appointment', `${ubrn}-1`), null, 'no appointment written');
    });

    it('concurrent bookings of one slot: exactly one wins', async () => {
      const [slot] = slotIds(await freeSlots('11000'));
      const ubrns = await Promise.all(Array.from({ length: 5 }, () => newReferral()));
      const answers = await Promise.all(
        ubrns.map((u) => book(appointmentBody('MinimalBooking', u, 1, { slot }))),
      );
      const codes = answers.map((a) =>
        a.statusCode === 201 ? 'BOOKED' : a.json().issue[0].details.coding[0].code,
      );
      assert.deepEqual(
        codes.sort(),
        ['BOOKED', ...Array(4).fill('SLOT_NOT_AVAILABLE')],
        JSON.stringify(codes),
      );
    });

    it("a provider withdraws a free slot, not a booked one nor another provider's", async () => {
      const [a, b] = slotIds(await freeSlots('11000'));
      const del = (id: string, token = provider) =>
        platform.request({ method: 'DELETE', url: `${MANAGE}/Slot/${id}`, token });
      assertErs(await del(a, otherProvider), 403, 'NO_ACCESS');
      assertErs(await del('11000-209901010900-1'), 404, 'REC_NOT_FOUND');
      assertErs(await del('bad%20id'), 400, 'INVALID_VALUE');
      const res = await del(a);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().status, 'busy-unavailable');
      assert.equal((await del(a)).statusCode, 200, 'withdrawing again answers the same');
      assert.ok(!slotIds(await freeSlots('11000')).includes(a));
      const ubrn = await newReferral();
      assertErs(
        await book(appointmentBody('MinimalBooking', ubrn, 1, { slot: a })),
        422,
        'SLOT_NOT_AVAILABLE',
      );
      assert.equal(
        (await book(appointmentBody('MinimalBooking', ubrn, 1, { slot: b }))).statusCode,
        201,
      );
      assertErs(await del(b), 422, 'INVALID_STATE');
    });
  });
}
