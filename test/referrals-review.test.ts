/**
 * The provider's review of booked referrals on both stores, through the whole platform: the
 * Referrals for Review worklist ($ers.fetchworklist, a008) -> $ers.acceptReferral (a013) or
 * $ers.rejectReferral (a014) -> the referrer's Rejected / Triage Response worklist; the available
 * actions (a029) on a booked referral. Booked referrals are test setup data (created through
 * $ers.createReferral, then their booking committed to the store: helpers/ers-provider.ts). Each
 * refusal: wrong state (422 INVALID_REQUEST_STATE naming the state, nothing changed), wrong
 * business function, wrong organisation, unknown UBRN, bad input (4xx, never 500), stale or missing
 * If-Match, X-Request-ID retry; events on the outbox. Request bodies are the published examples.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  assert4xx,
  assertErs,
  BASE,
  PATIENT,
  PROVIDER,
  published,
  SERVICES,
  startProviderPlatform,
  stateExtension,
  stateOf,
  type Caller,
  type ProviderPlatform,
} from './helpers/ers-provider.js';
import { storesUnderTest } from './helpers/stores.js';

const RR = `${BASE}/ReferralRequest`;

for (const kind of await storesUnderTest()) {
  describe(`e-Referral review (${kind})`, () => {
    let t: ProviderPlatform;
    before(async () => {
      t = await startProviderPlatform(kind);
    });
    after(() => t.close());

    const act = (
      op: 'acceptReferral' | 'rejectReferral',
      ubrn: string,
      version: number | null,
      body?: unknown,
      who?: Caller,
      headers: Record<string, string> = {},
    ) =>
      t.ers(who ?? t.provider, {
        method: 'POST',
        url: `${RR}/${ubrn}/$ers.${op}`,
        body,
        headers: { ...(version === null ? {} : { 'if-match': `W/"${version}"` }), ...headers },
      });
    const accept = (ubrn: string, version: number | null, who?: Caller, headers = {}) =>
      act('acceptReferral', ubrn, version, undefined, who, headers);
    const reject = (
      ubrn: string,
      version: number | null,
      body: unknown,
      who?: Caller,
      headers = {},
    ) => act('rejectReferral', ubrn, version, body, who, headers);
    const stored = async (ubrn: string) => (await t.platform.repo.read('ReferralRequest', ubrn))!;
    const reviewList = async (who: Caller = t.provider) => {
      const res = await t.ers(who, {
        method: 'POST',
        url: `${RR}/$ers.fetchworklist`,
        body: published('retrieveWorklist-MinimalReferralsForReview.json'),
      });
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    };
    const ubrnsOf = (list: any): string[] =>
      (list.entry ?? []).map((e: any) => e.item.reference.replace('ReferralRequest/', ''));
    const bookedReferral = async (service: string = SERVICES.bookable) => {
      const ubrn: string = (await t.createReferral([service])).id;
      return { ubrn, version: await t.book(ubrn, service) };
    };

    it('lists a booked referral for review, accepts it (shown BOOKED) and refuses a second review', async () => {
      const { ubrn, version } = await bookedReferral();
      const list = await reviewList();
      const entry = list.entry.find((e: any) => e.item.reference === `ReferralRequest/${ubrn}`);
      assert.ok(entry, 'on the Referrals for Review worklist');
      const parts = Object.fromEntries(entry.extension[0].extension.map((e: any) => [e.url, e]));
      assert.equal(parts.referralType.valueCodeableConcept.coding[0].code, 'APPOINTMENT');
      assert.equal(parts.service.valueReference.identifier.value, SERVICES.bookable);
      assert.equal(parts.service.valueReference.display, 'Good Cardiology Business Service');
      assert.equal(parts.referralRequestVersion.valueInteger, version);
      assert.ok(Date.parse(parts.appointmentStart.valueDateTime) > Date.now());
      assert.ok(!ubrnsOf(await reviewList(t.otherProvider)).includes(ubrn));

      const accepted = await accept(ubrn, version);
      assert.equal(accepted.statusCode, 200, accepted.body);
      assert.equal(accepted.headers.etag, `W/"${version + 1}"`);
      const referral = accepted.json();
      assert.equal(referral.meta.versionId, String(version + 1));
      assert.equal(stateOf(referral), 'BOOKED', 'e-RS shows an accepted referral as BOOKED');
      assert.equal(stateOf((await stored(ubrn)).resource), 'ACCEPTED');
      assert.ok(!accepted.body.includes('openspine.dev'));
      const byReferrer = await t.ers(t.referrer, { url: `${RR}/${ubrn}` });
      assert.equal(stateOf(byReferrer.json()), 'BOOKED');
      assert.ok(!ubrnsOf(await reviewList()).includes(ubrn), 'reviewed: off the worklist');

      const again = assertErs(await accept(ubrn, version + 1), 422, 'INVALID_REQUEST_STATE');
      assert.match(again.issue[0].diagnostics, /'ACCEPTED'/);
      assertErs(
        await reject(ubrn, version + 1, published('rejectReferral-BasicExampleDbs.json')),
        422,
        'INVALID_REQUEST_STATE',
      );
      assert.equal((await stored(ubrn)).version, version + 1, 'the refusals changed nothing');

      const events = await t.eventsFor(ubrn, 'ers.referral.accepted');
      const acceptedEvent = events.find((e) => e.topic === 'ers.referral.accepted')!;
      assert.deepEqual((acceptedEvent.body as any).providers, [PROVIDER]);
      assert.equal((acceptedEvent.body as any).state, 'BOOKED');
      assert.equal(acceptedEvent.key, PATIENT);
      const audit = (await t.platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      assert.ok(
        audit.some(
          (r) =>
            r.action === 'ers.referral.review' &&
            r.patient === PATIENT &&
            (r.detail as any)?.ubrn === ubrn &&
            (r.detail as any)?.outcome === 'ACCEPTED',
        ),
      );
    });

    it('rejects a booked referral with a published reason, cancelling its appointment', async () => {
      const { ubrn, version } = await bookedReferral();
      const rejected = await reject(
        ubrn,
        version,
        published('rejectReferral-BasicExampleDbs.json'),
      );
      assert.equal(rejected.statusCode, 200, rejected.body);
      const referral = rejected.json();
      assert.equal(stateOf(referral), 'REJECTED');
      const state = stateExtension(referral).extension;
      assert.deepEqual(state[1].valueCoding, {
        system: '_baseurl_/STU3/CodeSystem/APPOINTMENT-CANCELLATION-REASON',
        code: 'SERVICE_INAPPROPRIATE',
        display: 'Inappropriate service',
      });
      assert.equal(state[2].valueString, 'This is a short comment');
      const appointment = (await t.platform.repo.read('Appointment', `${ubrn}-1`))!.resource;
      assert.equal(appointment.status, 'cancelled');
      // the referrer's Rejected / Triage Response list holds it with the reason
      const res = await t.ers(t.referrer, {
        method: 'POST',
        url: `${RR}/$ers.fetchworklist`,
        body: published('retrieveWorklist-MinimalRejectedTriageResponse.json'),
      });
      const entry = res
        .json()
        .entry.find((e: any) => e.item.reference === `ReferralRequest/${ubrn}`);
      const parts = Object.fromEntries(entry.extension[0].extension.map((e: any) => [e.url, e]));
      assert.equal(parts.status.valueCodeableConcept.coding[0].code, 'REJECTED');
      assert.equal(parts.reason.valueCodeableConcept.coding[0].code, 'SERVICE_INAPPROPRIATE');
      const events = await t.eventsFor(ubrn, 'ers.referral.rejected');
      const event = events.find((e) => e.topic === 'ers.referral.rejected')!;
      assert.equal((event.body as any).reason, 'SERVICE_INAPPROPRIATE');
      assert.equal((event.body as any).state, 'REJECTED');
      // final: nothing more to review
      assertErs(await accept(ubrn, version + 1), 422, 'INVALID_REQUEST_STATE');
    });

    it('requires appointmentCancelledInPAS for an indirectly bookable service', async () => {
      const { ubrn, version } = await bookedReferral(SERVICES.indirect);
      const dbs = published('rejectReferral-BasicExampleDbs.json');
      assertErs(await reject(ubrn, version, dbs), 422, 'VALUE_IS_REQUIRED');
      const ibs = await reject(ubrn, version, published('rejectReferral-BasicExampleIbs.json'));
      assert.equal(ibs.statusCode, 200, ibs.body);
      assert.equal(stateExtension(ibs.json()).extension[1].valueCoding.code, 'OTHER');
    });

    it('accepts on behalf of a clinician, and refuses the On-Behalf-Of header where it does not belong', async () => {
      const { ubrn, version } = await bookedReferral();
      assertErs(
        await accept(ubrn, version, { ...t.providerAdmin, headers: {} }),
        400,
        'MISSING_HEADER',
      );
      assertErs(
        await accept(ubrn, version, t.provider, {
          'nhsd-ers-on-behalf-of-user-id': '021600556514',
        }),
        403,
        'NO_ACCESS',
      );
      const res = await accept(ubrn, version, t.providerAdmin);
      assert.equal(res.statusCode, 200, res.body);
    });

    it('refuses the wrong caller, state, version or input, changing nothing', async () => {
      const { ubrn, version } = await bookedReferral();
      const dbs = published('rejectReferral-BasicExampleDbs.json');
      for (const op of ['acceptReferral', 'rejectReferral'] as const) {
        const body = op === 'rejectReferral' ? dbs : undefined;
        const call = (who?: Caller, v: number | null = version, id = ubrn, headers = {}) =>
          act(op, id, v, body, who, headers);
        // the referrer, with its own function or a provider's; another provider; other functions
        assertErs(await call(t.referrer), 403, 'NO_ACCESS', 'forbidden');
        assertErs(
          await call({ ...t.referrer, businessFunction: 'SERVICE_PROVIDER_CLINICIAN' }),
          403,
          'NO_ACCESS',
        );
        assertErs(await call(t.otherProvider), 403, 'NO_ACCESS');
        assertErs(
          await call({ ...t.provider, businessFunction: 'SERVICE_PROVIDER_ADMIN' }),
          403,
          'NO_ACCESS',
        );
        assertErs(
          await call({ ...t.provider, businessFunction: 'REFERRING_CLINICIAN' }),
          403,
          'NO_ACCESS',
        );
        assertErs(await call({ ...t.provider, ods: 'RA7' }), 403, 'NO_ACCESS');
        assertErs(
          await call(t.provider, version, '999999999999'),
          404,
          'REC_NOT_FOUND',
          'not-found',
        );
        assertErs(await call(t.provider, version, 'abc'), 400, 'INVALID_VALUE');
        assertErs(await call(t.provider, version + 5), 409, 'VERSION_MISMATCH');
        assertErs(await call(t.provider, null), 412, 'MISSING_VALUE');
        assertErs(
          await call(t.provider, null, ubrn, { 'if-match': 'W/"x"' }),
          412,
          'INVALID_VALUE',
        );
      }
      // a student has no e-RS activity at all: refused by the platform's policy
      const student = { ...t.provider, token: await t.platform.token('R8004', { org: PROVIDER }) };
      const res = await accept(ubrn, version, student);
      assert.equal(res.statusCode, 403);
      assert.match(res.json().issue[0].diagnostics, /is not permitted to perform/);

      const make = (mutate: (b: any) => void) => {
        const b = structuredClone(dbs);
        mutate(b);
        return b;
      };
      const param = (b: any, name: string) => b.parameter.find((p: any) => p.name === name);
      const cases: [string, unknown, string][] = [
        ['no body', undefined, 'INVALID_FHIR_STRUCTURE'],
        ['not Parameters', { resourceType: 'Basic' }, 'INVALID_FHIR_STRUCTURE'],
        [
          'parameter not an array',
          { resourceType: 'Parameters', parameter: 'x' },
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'no reason',
          make((b) => (b.parameter = b.parameter.filter((p: any) => p.name !== 'rejectionReason'))),
          'MISSING_VALUE',
        ],
        [
          'an unknown reason',
          make((b) => (param(b, 'rejectionReason').valueCoding.code = 'BORED')),
          'INVALID_CODE',
        ],
        [
          "a referrer's cancellation reason",
          make((b) => (param(b, 'rejectionReason').valueCoding.code = 'PATIENT_APPOINTMENT_CLASH')),
          'INVALID_CODE',
        ],
        [
          'a reason of another system',
          make((b) => (param(b, 'rejectionReason').valueCoding.system = 'urn:x')),
          'INVALID_CODE',
        ],
        [
          'a reason with no coding',
          make((b) => delete param(b, 'rejectionReason').valueCoding),
          'INVALID_CODE',
        ],
        [
          'comments no string',
          make((b) => (param(b, 'rejectionComments').valueString = {})),
          'INVALID_VALUE',
        ],
        [
          'comments too long',
          make((b) => (param(b, 'rejectionComments').valueString = 'x'.repeat(2001))),
          'INVALID_VALUE',
        ],
        [
          'PAS flag no boolean',
          make((b) => b.parameter.push({ name: 'appointmentCancelledInPAS', valueBoolean: 'yes' })),
          'INVALID_VALUE',
        ],
        [
          'a reason twice',
          make((b) => b.parameter.push(param(b, 'rejectionReason'))),
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'an unknown parameter',
          make((b) => b.parameter.push({ name: 'rejectedBy' })),
          'UNEXPECTED_FIELD',
        ],
      ];
      for (const [what, body, code] of cases) {
        const r = await reject(ubrn, version, body);
        assert4xx(r, what);
        assertErs(r, r.statusCode, code);
      }
      assert4xx(await reject(ubrn, version, '{"resourceType": "Param'), 'not JSON');
      assert.equal((await stored(ubrn)).version, version, 'nothing changed');
      assert.equal(stateOf((await stored(ubrn)).resource), 'BOOKED');
      const audit = (await t.platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      assert.ok(
        audit.some(
          (r) =>
            r.outcome === 'refused' &&
            r.action === 'ers.referral.review' &&
            (r.detail as any)?.ubrn === ubrn,
        ),
      );

      // a referral sent for triage is reviewed by a triage outcome, not accepted or rejected
      const triage = await t.ers(t.referrer, {
        method: 'POST',
        url: `${RR}/$ers.createReferralAndSendForTriage`,
        body: published('createReferralAndSendForTriage-Parameters.json'),
      });
      const triageUbrn: string = triage.json().id;
      const wrong = assertErs(
        await accept(triageUbrn, 1),
        422,
        'INVALID_REQUEST_STATE',
        'business-rule',
      );
      assert.match(wrong.issue[0].diagnostics, /'AWAITING_TRIAGE'/);
      assertErs(await reject(triageUbrn, 1, dbs), 422, 'INVALID_REQUEST_STATE');
      assert.equal((await stored(triageUbrn)).version, 1);
    });

    it('answers X-Request-ID retries of accept and reject as before', async () => {
      const first = await bookedReferral();
      const id = randomUUID();
      const once = await accept(first.ubrn, first.version, undefined, { 'x-request-id': id });
      const twice = await accept(first.ubrn, first.version, undefined, { 'x-request-id': id });
      assert.equal(once.statusCode, 200, once.body);
      assert.equal(twice.statusCode, 200, twice.body);
      assert.equal(twice.headers.etag, once.headers.etag);
      assert.equal((await stored(first.ubrn)).version, first.version + 1, 'applied once');

      const second = await bookedReferral();
      const rid = randomUUID();
      const body = published('rejectReferral-BasicExampleDbs.json');
      const r1 = await reject(second.ubrn, second.version, body, undefined, {
        'x-request-id': rid,
      });
      const r2 = await reject(second.ubrn, second.version, body, undefined, {
        'x-request-id': rid,
      });
      assert.equal(r1.statusCode, 200, r1.body);
      assert.equal(r2.statusCode, 200, r2.body);
      assert.deepEqual(r2.json(), r1.json());
      const events = await t.eventsFor(second.ubrn, 'ers.referral.rejected');
      assert.equal(events.filter((e) => e.topic === 'ers.referral.rejected').length, 1);
      // the same id for another request is refused
      const reuse = await accept(first.ubrn, first.version + 1, undefined, { 'x-request-id': rid });
      assert.equal(reuse.statusCode, 400, reuse.body);
    });

    it('offers the referrer and the provider what each may do to a booked referral', async () => {
      const { ubrn, version } = await bookedReferral();
      const codes = async (who: Caller) => {
        const res = await t.ers(who, {
          url: `${BASE}/Task?focus=ReferralRequest/${ubrn}/_history/${version}&intent=proposal&status=ready`,
        });
        assert.equal(res.statusCode, 200, res.body);
        const bundle = res.json();
        assert.equal(bundle.resourceType, 'Bundle');
        assert.equal(bundle.type, 'searchset');
        assert.ok(
          bundle.link[0].url.endsWith(
            `/Task?focus=ReferralRequest/${ubrn}/_history/${version}&intent=proposal&status=ready`,
          ),
        );
        return bundle.entry.map((e: any) => e.resource.code.coding[0].code);
      };
      // a029 publishes no accept/reject action: a booked referral offers the provider nothing
      assert.deepEqual(await codes(t.provider), []);
      assert.deepEqual(await codes(t.referrer), [
        'CANCEL_DIRECTLY_BOOKED_APPOINTMENT',
        'CANCEL_REFERRAL',
      ]);
      // an admin naming a clinician's function it may not act in is refused (ERS_FUNCTION_ROLES)
      const admin = {
        ...t.referrer,
        token: await t.platform.token('R8008', { org: t.referrer.ods, user: 'an-admin' }),
      };
      assertErs(
        await t.ers(
          { ...admin, businessFunction: 'REFERRING_CLINICIAN' },
          {
            url: `${BASE}/Task?focus=ReferralRequest/${ubrn}/_history/${version}&intent=proposal&status=ready`,
          },
        ),
        403,
        'NO_ACCESS',
      );
      assertErs(
        await t.ers(t.otherProvider, {
          url: `${BASE}/Task?focus=ReferralRequest/${ubrn}/_history/${version}&intent=proposal&status=ready`,
        }),
        403,
        'NO_ACCESS',
      );
    });
  });
}
