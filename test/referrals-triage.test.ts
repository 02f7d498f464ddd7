/**
 * Triage on both stores, through the whole platform: $ers.createReferralAndSendForTriage (a021)
 * -> the provider's Referrals for Review worklist ($ers.fetchworklist, a008) -> the available
 * actions (a029) -> $ers.recordReviewOutcome (a028: accept and book later, return to referrer) ->
 * the referrer's Rejected / Triage Response worklist. Each refusal: wrong state (422
 * INVALID_REQUEST_STATE naming the state, nothing changed), wrong business function, wrong
 * organisation, unknown UBRN, bad input of every field (4xx, never 500), stale or missing If-Match,
 * X-Request-ID retry; events on the outbox. Requests are the published sandbox examples in
 * test/fixtures/ers/published/ (see SOURCES.md).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  assert4xx,
  assertErs,
  BASE,
  OBO_USER,
  PATIENT,
  PROVIDER,
  published,
  REFERRER,
  SERVICES,
  startProviderPlatform,
  stateExtension,
  stateOf,
  type Caller,
  type ProviderPlatform,
} from './helpers/ers-provider.js';
import { storesUnderTest } from './helpers/stores.js';

const RR = `${BASE}/ReferralRequest`;

/** The published a021 request, sending to `service` (11004 as published). */
function triageBody(service: string = SERVICES.triage): any {
  const body = published('createReferralAndSendForTriage-Parameters.json');
  body.parameter.find((p: any) => p.name === 'shortlist').resource.entry[0].item.identifier.value =
    service;
  return body;
}

const listBody = (code: string) => {
  const body = published('retrieveWorklist-MinimalReferralsForReview.json');
  body.parameter[0].valueCodeableConcept.coding[0].code = code;
  return body;
};

for (const kind of await storesUnderTest()) {
  describe(`e-Referral triage (${kind})`, () => {
    let t: ProviderPlatform;
    before(async () => {
      t = await startProviderPlatform(kind);
    });
    after(() => t.close());

    const sendForTriage = (body: unknown = triageBody(), who?: Caller, headers = {}) =>
      t.ers(who ?? t.referrer, {
        method: 'POST',
        url: `${RR}/$ers.createReferralAndSendForTriage`,
        body,
        headers,
      });
    const outcome = (
      ubrn: string,
      version: number,
      body: unknown,
      who?: Caller,
      headers: Record<string, string> = {},
    ) =>
      t.ers(who ?? t.provider, {
        method: 'POST',
        url: `${RR}/${ubrn}/$ers.recordReviewOutcome`,
        body,
        headers: { 'if-match': `W/"${version}"`, ...headers },
      });
    const worklist = (who: Caller, body: unknown) =>
      t.ers(who, { method: 'POST', url: `${RR}/$ers.fetchworklist`, body });
    const tasks = (who: Caller, ubrn: string, version: number) =>
      t.ers(who, {
        url: `${BASE}/Task?focus=ReferralRequest/${ubrn}/_history/${version}&intent=proposal&status=ready`,
      });
    const read = async (ubrn: string) => (await t.ers(t.referrer, { url: `${RR}/${ubrn}` })).json();
    const ubrnsOf = (list: any): string[] =>
      (list.entry ?? []).map((e: any) => e.item.reference.replace('ReferralRequest/', ''));
    const codesOf = (bundle: any): string[] =>
      bundle.entry.map((e: any) => e.resource.code.coding[0].code);

    it('creates a referral straight into AWAITING_TRIAGE at the triage service provider', async () => {
      const res = await sendForTriage();
      assert.equal(res.statusCode, 201, res.body);
      const referral = res.json();
      const ubrn: string = referral.id;
      assert.match(ubrn, /^[0-9]{12}$/);
      assert.equal(res.headers.etag, 'W/"1"');
      assert.ok(String(res.headers.location).endsWith(`/ReferralRequest/${ubrn}/_history/1`));
      assert.equal(stateOf(referral), 'AWAITING_TRIAGE');
      assert.deepEqual(stateExtension(referral).extension[1].valueCoding, {
        system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ReviewReason-1',
        code: 'TRIAGE',
      });
      // the published answer's extensions and contained resources, in its shape
      const expected = published('createReferralAndSendForTriage-ResponseReferralRequest.json');
      const urls = (r: any) => new Set(r.extension.map((e: any) => e.url));
      for (const url of urls(referral)) assert.ok(urls(expected).has(url), `published: ${url}`);
      // its first appointment: proposed at the triage service for reason TRIAGE, as published
      const reference = referral.extension.find((e: any) =>
        e.url.endsWith('Extension-eRS-Appointment-Reference-1'),
      );
      assert.equal(reference.valueReference.reference, `Appointment/${ubrn}-1`);
      const appointment = (await t.platform.repo.read('Appointment', `${ubrn}-1`))!.resource;
      assert.equal(appointment.status, 'proposed');
      assert.deepEqual(appointment.reason, expected.contained[2].reason);
      assert.deepEqual(appointment.participant[0].actor, {
        identifier: { system: 'http://fhir.nhs.net/Id/ers-service', value: SERVICES.triage },
        display: 'Cardiology Triage Business Service',
      });
      assert.deepEqual(appointment.incomingReferral, [
        { reference: `ReferralRequest/${ubrn}/_history/1` },
      ]);
      assert.equal(referral.specialty.coding[0].code, 'CARDIOLOGY');
      const shortlist = referral.contained.find((c: any) => c.id === 'shortlist');
      assert.equal(shortlist.entry[0].item.display, 'Cardiology Triage Business Service');
      assert.ok(!res.body.includes('openspine.dev'), 'internal extensions hidden');
      // the provider it was sent to may read it now; another provider may not
      const byProvider = await t.ers(t.provider, { url: `${RR}/${ubrn}` });
      assert.equal(byProvider.statusCode, 200, byProvider.body);
      assertErs(await t.ers(t.otherProvider, { url: `${RR}/${ubrn}` }), 403, 'NO_ACCESS');

      const events = await t.eventsFor(ubrn, 'ers.referral.sent');
      assert.deepEqual(
        events.map((e) => e.topic),
        ['ers.referral.created', 'ers.referral.sent'],
      );
      const sent = events[1].body as any;
      assert.deepEqual(sent.providers, [PROVIDER]);
      assert.equal(sent.referrer, REFERRER);
      assert.equal(sent.state, 'AWAITING_TRIAGE');
      assert.equal(events[1].key, PATIENT);
      const audit = (await t.platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      assert.ok(
        audit.some((r) => r.action === 'ers.referral.create' && (r.detail as any)?.ubrn === ubrn),
      );
    });

    it('refuses a021 for the wrong service, business function or body (4xx, nothing created)', async () => {
      const before = await t.platform.repo.count('ReferralRequest');
      assertErs(await sendForTriage(triageBody(), t.provider), 403, 'NO_ACCESS', 'forbidden');
      assertErs(await sendForTriage(triageBody(SERVICES.notTriage)), 422, 'INAPPROPRIATE_VALUE');
      assertErs(
        await sendForTriage(triageBody(SERVICES.restricted)),
        422,
        'SHORTLISTED_SERVICE_NOT_IN_RESULTS',
      );
      assertErs(await sendForTriage(triageBody('55555')), 422, 'REFERENCE_NOT_FOUND');
      const param = (body: any, name: string) => body.parameter.find((p: any) => p.name === name);
      const change = (mutate: (b: any) => void) => {
        const b = triageBody();
        mutate(b);
        return b;
      };
      const cases: [string, unknown, string][] = [
        ['not Parameters', { resourceType: 'Bundle' }, 'INVALID_FHIR_STRUCTURE'],
        ['null', null, 'INVALID_FHIR_STRUCTURE'],
        ['no parameter array', { resourceType: 'Parameters' }, 'INVALID_FHIR_STRUCTURE'],
        [
          'two services',
          change((b) =>
            param(b, 'shortlist').resource.entry.push({
              item: {
                identifier: { system: 'http://fhir.nhs.net/Id/ers-service', value: '11002' },
              },
            }),
          ),
          'TOO_MANY_ITEMS',
        ],
        [
          'a pathway start (not an a021 parameter)',
          change((b) =>
            b.parameter.push({
              name: 'eReferralPathwayStart',
              valueInstant: new Date().toISOString(),
            }),
          ),
          'UNEXPECTED_FIELD',
        ],
        [
          'a letter intention other than NEED_TO_ADD_LATER',
          change((b) => (param(b, 'intentionToAddReferralLetter').valueCoding.code = 'ADDED')),
          'INVALID_CODE',
        ],
        [
          'no letter intention',
          change(
            (b) =>
              (b.parameter = b.parameter.filter(
                (p: any) => p.name !== 'intentionToAddReferralLetter',
              )),
          ),
          'MISSING_VALUE',
        ],
        [
          'reminder days other than 0',
          change((b) => (param(b, 'firstReminderLetterFollowUpDays').valueUnsignedInt = 7)),
          'INVALID_VALUE',
        ],
        [
          'reminder days as a string',
          change((b) => (param(b, 'firstReminderLetterFollowUpDays').valueUnsignedInt = '0')),
          'INVALID_VALUE',
        ],
        [
          'no reminder days',
          change(
            (b) =>
              (b.parameter = b.parameter.filter(
                (p: any) => p.name !== 'firstReminderLetterFollowUpDays',
              )),
          ),
          'MISSING_VALUE',
        ],
        [
          'an invalid NHS Number',
          change((b) => (param(b, 'patient').valueIdentifier.value = '1234567890')),
          'INVALID_VALUE',
        ],
        [
          'no patient',
          change((b) => (b.parameter = b.parameter.filter((p: any) => p.name !== 'patient'))),
          'MISSING_VALUE',
        ],
        [
          'no shortlist',
          change((b) => (b.parameter = b.parameter.filter((p: any) => p.name !== 'shortlist'))),
          'MISSING_VALUE',
        ],
        [
          'a referring clinician without an id',
          change((b) => b.parameter.push({ name: 'referringClinician', valueIdentifier: {} })),
          'INVALID_VALUE',
        ],
        [
          'an unknown parameter',
          change((b) => b.parameter.push({ name: 'x' })),
          'UNEXPECTED_FIELD',
        ],
      ];
      for (const [what, body, code] of cases) {
        const res = await sendForTriage(body);
        assert4xx(res, what);
        assertErs(res, res.statusCode, code);
      }
      assert4xx(await sendForTriage('{"resourceType":'), 'not JSON');
      assert.equal(await t.platform.repo.count('ReferralRequest'), before, 'nothing created');
    });

    it('answers an a021 X-Request-ID retry as before', async () => {
      const requestId = randomUUID();
      const before = await t.platform.repo.count('ReferralRequest');
      const first = await sendForTriage(triageBody(), undefined, { 'x-request-id': requestId });
      const retry = await sendForTriage(triageBody(), undefined, { 'x-request-id': requestId });
      assert.equal(first.statusCode, 201, first.body);
      assert.equal(retry.statusCode, 201, retry.body);
      assert.equal(retry.json().id, first.json().id);
      assert.equal(await t.platform.repo.count('ReferralRequest'), before + 1);
    });

    it('lists it for the provider, records accept-and-book-later, and refuses a second outcome', async () => {
      const ubrn: string = (await sendForTriage()).json().id;
      const review = await worklist(
        t.provider,
        published('retrieveWorklist-MinimalReferralsForReview.json'),
      );
      assert.equal(review.statusCode, 200, review.body);
      const list = review.json();
      assert.equal(list.resourceType, 'List');
      assert.deepEqual(list.meta.profile, [
        'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-FetchWorklist-List-1',
      ]);
      assert.ok(ubrnsOf(list).includes(ubrn));
      const entry = list.entry.find((e: any) => e.item.reference === `ReferralRequest/${ubrn}`);
      const item = entry.extension[0];
      assert.equal(
        item.url,
        'https://fhir.nhs.uk/STU3/StructureDefinition/Extension-eRS-ReferralsforReview-WorkListItem-1',
      );
      const parts = Object.fromEntries(item.extension.map((e: any) => [e.url, e]));
      assert.equal(parts.referralType.valueCodeableConcept.coding[0].code, 'TRIAGE_DEFERRAL');
      assert.equal(parts.referralRequestVersion.valueInteger, 1);
      assert.equal(parts.service.valueReference.identifier.value, SERVICES.triage);
      assert.equal(parts.specialty.valueCodeableConcept.coding[0].code, 'CARDIOLOGY');
      assert.equal(parts.patient.valueReference.reference, `#Patient-${PATIENT}`);
      assert.ok(list.contained.some((c: any) => c.id === `Patient-${PATIENT}`));
      // every item field is one the published example of this list uses
      const publishedItem = published('retrieveWorklist-ResponseReferralsForReview.json').entry[1]
        .extension[0];
      const publishedUrls = new Set(publishedItem.extension.map((e: any) => e.url));
      for (const url of Object.keys(parts)) assert.ok(publishedUrls.has(url), `published: ${url}`);
      // another provider's list does not hold it; the referrer's awaiting-booking list does
      assert.ok(
        !ubrnsOf(
          (await worklist(t.otherProvider, listBody('REFERRALS_FOR_REVIEW'))).json(),
        ).includes(ubrn),
      );
      const awaiting = await worklist(t.referrer, listBody('AWAITING_BOOKING'));
      assert.equal(awaiting.statusCode, 200, awaiting.body);
      assert.ok(ubrnsOf(awaiting.json()).includes(ubrn));

      // the provider may record the review outcome now; the referrer may cancel
      const actions = await tasks(t.provider, ubrn, 1);
      assert.equal(actions.statusCode, 200, actions.body);
      assert.deepEqual(codesOf(actions.json()), ['RECORD_REVIEW_OUTCOME']);
      const publishedTasks = published('availableActionsForUserList-WithRecordReviewOutcome.json');
      assert.deepEqual(
        Object.keys(actions.json().entry[0].resource).sort(),
        Object.keys(publishedTasks.entry[0].resource).sort(),
      );
      assert.equal(
        actions.json().entry[0].resource.focus.reference,
        `ReferralRequest/${ubrn}/_history/1`,
      );
      assert.deepEqual(codesOf((await tasks(t.referrer, ubrn, 1)).json()), ['CANCEL_REFERRAL']);

      const accepted = await outcome(
        ubrn,
        1,
        published('recordTriageOutcome-AcceptReferBookLater.json'),
      );
      assert.equal(accepted.statusCode, 200, accepted.body);
      assert.equal(accepted.headers.etag, 'W/"2"');
      const referral = accepted.json();
      assert.equal(referral.meta.versionId, '2');
      assert.equal(stateOf(referral), 'TRIAGED_PROVIDER_TO_ACTION');
      const state = stateExtension(referral).extension;
      assert.deepEqual(state[1].valueCoding, {
        system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ReviewOutcome-1',
        code: 'ACCEPT_REFER_BOOK_LATER',
        display: 'Accept Refer Book Later',
      });
      assert.equal(state[2].valueString, 'Urgent action needed. To be booked ASAP');
      const priority = referral.extension.find((e: any) => e.url.endsWith('ReferralPriority-1'));
      assert.equal(priority.valueCodeableConcept.coding[0].code, 'URGENT');

      const again = await outcome(
        ubrn,
        2,
        published('recordTriageOutcome-ReturnToReferrerWithAdvice.json'),
      );
      const refusal = assertErs(again, 422, 'INVALID_REQUEST_STATE', 'business-rule');
      assert.match(refusal.issue[0].diagnostics, /'TRIAGED_PROVIDER_TO_ACTION'/);
      assert.equal((await read(ubrn)).meta.versionId, '2', 'the refused outcome changed nothing');
      assert.deepEqual(codesOf((await tasks(t.provider, ubrn, 2)).json()), []);
      assert.ok(
        !ubrnsOf((await worklist(t.provider, listBody('REFERRALS_FOR_REVIEW'))).json()).includes(
          ubrn,
        ),
      );

      const events = await t.eventsFor(ubrn, 'ers.referral.triaged');
      const triaged = events.find((e) => e.topic === 'ers.referral.triaged')!;
      assert.equal((triaged.body as any).reason, 'ACCEPT_REFER_BOOK_LATER');
      assert.equal((triaged.body as any).state, 'TRIAGED_PROVIDER_TO_ACTION');
      const audit = (await t.platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      assert.ok(
        audit.some((r) => r.action === 'ers.referral.review' && (r.detail as any)?.ubrn === ubrn),
      );
      assert.ok(
        audit.some((r) => r.action === 'ers.worklist.read' && (r.detail as any)?.ubrn === ubrn),
      );
    });

    it('returns a referral to the referrer with advice, on behalf of a clinician', async () => {
      const ubrn: string = (await sendForTriage()).json().id;
      // SERVICE_PROVIDER_CLINICIAN_ADMIN needs the On-Behalf-Of user, and only it may give one
      const body = published('recordTriageOutcome-ReturnToReferrerWithAdvice.json');
      assertErs(
        await outcome(ubrn, 1, body, { ...t.providerAdmin, headers: {} }),
        400,
        'MISSING_HEADER',
      );
      assertErs(
        await outcome(ubrn, 1, body, t.provider, { 'nhsd-ers-on-behalf-of-user-id': OBO_USER }),
        403,
        'NO_ACCESS',
      );
      // a different priority cannot be given with a return to the referrer
      const withPriority = structuredClone(body);
      withPriority.parameter.push({
        name: 'reviewPriority',
        valueCoding: {
          system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-Priority-1',
          code: 'URGENT',
        },
      });
      assertErs(await outcome(ubrn, 1, withPriority), 422, 'PRIORITY_NOT_CURRENT');

      const returned = await outcome(ubrn, 1, body, t.providerAdmin);
      assert.equal(returned.statusCode, 200, returned.body);
      assert.equal(stateOf(returned.json()), 'TRIAGE_RESPONSE');
      const audit = (await t.platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      assert.ok(
        audit.some(
          (r) => r.action === 'ers.referral.review' && (r.detail as any)?.onBehalfOf === OBO_USER,
        ),
      );
      // the referrer's Rejected / Triage Response list names the outcome
      const list = (
        await worklist(t.referrer, published('retrieveWorklist-MinimalRejectedTriageResponse.json'))
      ).json();
      const entry = list.entry.find((e: any) => e.item.reference === `ReferralRequest/${ubrn}`);
      assert.ok(entry, 'on the referrer worklist');
      const parts = Object.fromEntries(entry.extension[0].extension.map((e: any) => [e.url, e]));
      assert.equal(parts.status.valueCodeableConcept.coding[0].code, 'TRIAGE_RESPONSE');
      assert.equal(
        parts.reason.valueCodeableConcept.coding[0].code,
        'RETURN_TO_REFERRER_WITH_ADVICE',
      );
      assert.equal(parts.patient.valueReference.identifier.value, PATIENT);
      // now the referrer may change the shortlist or send it for triage again
      assert.deepEqual(codesOf((await tasks(t.referrer, ubrn, 2)).json()), [
        'CANCEL_REFERRAL',
        'CHANGE_SHORTLIST',
        'CHANGE_SHORTLIST_AND_SEND_FOR_TRIAGE',
      ]);
    });

    it('changes the shortlist after a triage response, and sends it for triage again (a031, a032)', async () => {
      const ubrn: string = (await sendForTriage()).json().id;
      const returned = await outcome(
        ubrn,
        1,
        published('recordTriageOutcome-ReturnToReferrerWithAdvice.json'),
      );
      assert.equal(stateOf(returned.json()), 'TRIAGE_RESPONSE');
      const change = (op: string, version: number | null, body: unknown, who?: Caller) =>
        t.ers(who ?? t.referrer, {
          method: 'POST',
          url: `${RR}/${ubrn}/$ers.${op}`,
          body,
          headers: version === null ? {} : { 'if-match': `W/"${version}"` },
        });
      const toTriage = published('changeShortlistAndSendForTriage-MinimalRequest.json');
      const toBookable = published('changeShortlist-UnbookedReferral.json');

      // a032: one triage service, sent there: a new proposed appointment, on the worklist again
      const resent = await change('changeShortlistAndSendForTriage', 2, toTriage);
      assert.equal(resent.statusCode, 200, resent.body);
      assert.equal(resent.headers.etag, 'W/"3"');
      const answer = resent.json();
      assert.deepEqual(answer.meta.profile, [
        'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-ChangeShortlistAndSendForTriage-Response-Parameters-1',
      ]);
      const [updated, created] = answer.parameter;
      assert.equal(updated.name, 'updatedReferralRequest');
      assert.equal(stateOf(updated.resource), 'AWAITING_TRIAGE');
      assert.equal(created.name, 'createdAppointment');
      assert.equal(created.resource.id, `${ubrn}-2`);
      assert.equal(created.resource.status, 'proposed');
      assert.deepEqual(created.resource.incomingReferral, [
        { reference: `ReferralRequest/${ubrn}/_history/3` },
      ]);
      assert.ok(
        ubrnsOf((await worklist(t.provider, listBody('REFERRALS_FOR_REVIEW'))).json()).includes(
          ubrn,
        ),
      );
      const sent = await t.eventsFor(ubrn, 'ers.referral.sent', 2);
      assert.equal(sent.filter((e) => e.topic === 'ers.referral.sent').length, 2);

      // not while it awaits triage
      const busy = assertErs(
        await change('changeShortlist', 3, toBookable),
        422,
        'INVALID_REQUEST_STATE',
      );
      assert.match(busy.issue[0].diagnostics, /'AWAITING_TRIAGE'/);
      assert.equal((await read(ubrn)).meta.versionId, '3');

      // a031 from the next triage response: the published shortlist, its priority, NOT_BOOKED
      await outcome(ubrn, 3, published('recordTriageOutcome-ReturnToReferrerWithAdvice.json'));
      assertErs(await change('changeShortlist', 4, toBookable, t.provider), 403, 'NO_ACCESS');
      assertErs(await change('changeShortlist', 9, toBookable), 409, 'VERSION_MISMATCH');
      assertErs(await change('changeShortlist', null, toBookable), 412, 'MISSING_VALUE');
      const changed = await change('changeShortlist', 4, toBookable);
      assert.equal(changed.statusCode, 200, changed.body);
      const referral = changed.json();
      assert.equal(stateOf(referral), 'NOT_BOOKED');
      const shortlist = referral.contained.find((c: any) => c.id === 'shortlist');
      assert.deepEqual(
        shortlist.entry.map((e: any) => [e.item.identifier.value, e.item.display]),
        [[SERVICES.bookable, 'Good Cardiology Business Service']],
      );
      const priority = referral.extension.find((e: any) => e.url.endsWith('ReferralPriority-1'));
      assert.equal(priority.valueCodeableConcept.coding[0].code, 'URGENT');
      const events = await t.eventsFor(ubrn, 'ers.referral.shortlist-changed');
      assert.ok(events.some((e) => e.topic === 'ers.referral.shortlist-changed'));
      // and again while it is not booked; the referrer may book or cancel it now
      const again = await change('changeShortlist', 5, toBookable);
      assert.equal(again.statusCode, 200, again.body);
      assert.deepEqual(codesOf((await tasks(t.referrer, ubrn, 6)).json()), [
        'CANCEL_REFERRAL',
        'CREATE_APPOINTMENT',
        'CHANGE_SHORTLIST',
        'CHANGE_SHORTLIST_AND_SEND_FOR_TRIAGE',
      ]);

      // bad bodies: 4xx, never 500, nothing changed
      const make = (base: any, mutate: (b: any) => void) => {
        const b = structuredClone(base);
        mutate(b);
        return b;
      };
      const param = (b: any, name: string) => b.parameter.find((p: any) => p.name === name);
      const extra = {
        item: {
          identifier: { system: 'http://fhir.nhs.net/Id/ers-service', value: SERVICES.gastro },
        },
      };
      const cases: [string, string, unknown, string][] = [
        [
          'changeShortlistAndSendForTriage',
          'two services',
          make(toTriage, (b) => param(b, 'shortlist').resource.entry.push(extra)),
          'TOO_MANY_ITEMS',
        ],
        [
          'changeShortlistAndSendForTriage',
          'a bookable service',
          make(
            toTriage,
            (b) =>
              (param(b, 'shortlist').resource.entry[0].item.identifier.value = SERVICES.bookable),
          ),
          'INAPPROPRIATE_VALUE',
        ],
        [
          'changeShortlistAndSendForTriage',
          'a reminder letter',
          make(toTriage, (b) => (param(b, 'firstReminderLetterFollowUpDays').valueUnsignedInt = 5)),
          'INVALID_VALUE',
        ],
        [
          'changeShortlist',
          'no shortlist',
          make(
            toBookable,
            (b) => (b.parameter = b.parameter.filter((p: any) => p.name !== 'shortlist')),
          ),
          'MISSING_VALUE',
        ],
        [
          'changeShortlist',
          'an unknown intention',
          make(
            toBookable,
            (b) => (param(b, 'intentionToAddReferralLetter').valueCoding.code = 'MAYBE'),
          ),
          'INVALID_CODE',
        ],
        [
          'changeShortlist',
          'negative reminder days',
          make(
            toBookable,
            (b) => (param(b, 'firstReminderLetterFollowUpDays').valueUnsignedInt = -1),
          ),
          'INVALID_VALUE',
        ],
        [
          'changeShortlist',
          'no reminder days',
          make(
            toBookable,
            (b) =>
              (b.parameter = b.parameter.filter(
                (p: any) => p.name !== 'firstReminderLetterFollowUpDays',
              )),
          ),
          'MISSING_VALUE',
        ],
        [
          'changeShortlist',
          'an unknown service',
          make(
            toBookable,
            (b) => (param(b, 'shortlist').resource.entry[0].item.identifier.value = '55555'),
          ),
          'REFERENCE_NOT_FOUND',
        ],
        [
          'changeShortlist',
          'a service twice',
          make(toBookable, (b) =>
            param(b, 'shortlist').resource.entry.push(param(b, 'shortlist').resource.entry[0]),
          ),
          'DUPLICATE_SERVICE',
        ],
        [
          'changeShortlist',
          'a patient (not an a031 parameter)',
          make(toBookable, (b) => b.parameter.push({ name: 'patient' })),
          'UNEXPECTED_FIELD',
        ],
        ['changeShortlist', 'not Parameters', { resourceType: 'List' }, 'INVALID_FHIR_STRUCTURE'],
      ];
      for (const [op, what, body, code] of cases) {
        const res = await change(op, 6, body);
        assert4xx(res, what);
        assertErs(res, res.statusCode, code);
      }
      assert.equal((await read(ubrn)).meta.versionId, '6', 'nothing changed');
    });

    it('refuses a028 to the wrong caller, state, version or body, changing nothing', async () => {
      const ubrn: string = (await sendForTriage()).json().id;
      const body = published('recordTriageOutcome-AcceptReferBookLater.json');
      // the referrer, with a referring function or pretending a provider one; another provider
      assertErs(await outcome(ubrn, 1, body, t.referrer), 403, 'NO_ACCESS');
      assertErs(
        await outcome(ubrn, 1, body, {
          ...t.referrer,
          businessFunction: 'SERVICE_PROVIDER_CLINICIAN',
        }),
        403,
        'NO_ACCESS',
      );
      assertErs(await outcome(ubrn, 1, body, t.otherProvider), 403, 'NO_ACCESS');
      assertErs(
        await outcome(ubrn, 1, body, { ...t.provider, businessFunction: 'SERVICE_PROVIDER_ADMIN' }),
        403,
        'NO_ACCESS',
      );
      assertErs(await outcome('999999999999', 1, body), 404, 'REC_NOT_FOUND');
      assertErs(await outcome('12345', 1, body), 400, 'INVALID_VALUE');
      assertErs(await outcome(ubrn, 7, body), 409, 'VERSION_MISMATCH');
      assertErs(
        await t.ers(t.provider, {
          method: 'POST',
          url: `${RR}/${ubrn}/$ers.recordReviewOutcome`,
          body,
        }),
        412,
        'MISSING_VALUE',
      );
      assertErs(await outcome(ubrn, 1, body, undefined, { 'if-match': '1' }), 412, 'INVALID_VALUE');
      const make = (mutate: (b: any) => void) => {
        const b = structuredClone(body);
        mutate(b);
        return b;
      };
      const param = (b: any, name: string) => b.parameter.find((p: any) => p.name === name);
      const drop = (name: string) =>
        make((b) => (b.parameter = b.parameter.filter((p: any) => p.name !== name)));
      const cases: [string, unknown, string][] = [
        ['not Parameters', { resourceType: 'List' }, 'INVALID_FHIR_STRUCTURE'],
        [
          'parameter holding null',
          { resourceType: 'Parameters', parameter: [null] },
          'INVALID_FHIR_STRUCTURE',
        ],
        ['no outcome', drop('reviewOutcome'), 'MISSING_VALUE'],
        ['no comments', drop('reviewComments'), 'MISSING_VALUE'],
        [
          'empty comments',
          make((b) => (param(b, 'reviewComments').valueString = '  ')),
          'VALUE_IS_REQUIRED',
        ],
        [
          'comments no string',
          make((b) => (param(b, 'reviewComments').valueString = 3)),
          'INVALID_VALUE',
        ],
        [
          'comments too long',
          make((b) => (param(b, 'reviewComments').valueString = 'x'.repeat(2001))),
          'INVALID_VALUE',
        ],
        [
          'an unknown outcome',
          make((b) => (param(b, 'reviewOutcome').valueCoding.code = 'MAYBE')),
          'INVALID_CODE',
        ],
        [
          'an outcome of another system',
          make((b) => (param(b, 'reviewOutcome').valueCoding.system = 'urn:x')),
          'INVALID_CODE',
        ],
        [
          'an outcome a028 does not record',
          make(
            (b) => (param(b, 'reviewOutcome').valueCoding.code = 'CANCEL_APPOINTMENT_ACTION_LATER'),
          ),
          'INAPPROPRIATE_VALUE',
        ],
        [
          'an unknown priority',
          make((b) => (param(b, 'reviewPriority').valueCoding.code = 'SOON')),
          'INVALID_CODE',
        ],
        [
          'an outcome given twice',
          make((b) => b.parameter.push(param(b, 'reviewOutcome'))),
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'an unknown parameter',
          make((b) => b.parameter.push({ name: 'reviewer' })),
          'UNEXPECTED_FIELD',
        ],
        [
          'an attachment not uploaded',
          published('recordTriageOutcome-AttachmentIncluded.json'),
          'REFERENCE_NOT_FOUND',
        ],
      ];
      for (const [what, b, code] of cases) {
        const res = await outcome(ubrn, 1, b);
        assert4xx(res, what);
        assertErs(res, res.statusCode, code);
      }
      assert.equal((await read(ubrn)).meta.versionId, '1', 'nothing changed');
      assert.equal(stateOf(await read(ubrn)), 'AWAITING_TRIAGE');
      const audit = (await t.platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      assert.ok(audit.some((r) => r.outcome === 'refused' && (r.detail as any)?.ubrn === ubrn));

      // a booked referral is reviewed by accepting or rejecting, not by a triage outcome
      const booked = (await t.createReferral()).id;
      const version = await t.book(booked);
      const wrong = assertErs(await outcome(booked, version, body), 422, 'INVALID_REQUEST_STATE');
      assert.match(wrong.issue[0].diagnostics, /'BOOKED'/);
    });

    it('answers an a028 X-Request-ID retry as before', async () => {
      const ubrn: string = (await sendForTriage()).json().id;
      const requestId = randomUUID();
      const body = published('recordTriageOutcome-AcceptReferBookLater.json');
      const once = await outcome(ubrn, 1, body, undefined, { 'x-request-id': requestId });
      const twice = await outcome(ubrn, 1, body, undefined, { 'x-request-id': requestId });
      assert.equal(once.statusCode, 200, once.body);
      assert.equal(twice.statusCode, 200, twice.body);
      assert.equal(twice.json().meta.versionId, '2');
      assert.equal((await read(ubrn)).meta.versionId, '2', 'applied once');
      const events = await t.eventsFor(ubrn, 'ers.referral.triaged');
      assert.equal(events.filter((e) => e.topic === 'ers.referral.triaged').length, 1);
    });

    it('refuses bad worklist requests (4xx, never 500) and filters the provider list', async () => {
      const ubrn: string = (await sendForTriage()).json().id;
      assertErs(await worklist(t.referrer, listBody('REFERRALS_FOR_REVIEW')), 403, 'NO_ACCESS');
      assertErs(await worklist(t.provider, listBody('AWAITING_BOOKING')), 403, 'NO_ACCESS');
      assertErs(
        await worklist(t.provider, published('retrieveWorklist-MinimalLettersOutstanding.json')),
        422,
        'INVALID_VALUE',
      );
      const filtered = (name: string) => published(`retrieveWorklist-${name}.json`);
      const cases: [string, unknown, string][] = [
        ['not Parameters', [], 'INVALID_FHIR_STRUCTURE'],
        ['no listType', { resourceType: 'Parameters', parameter: [] }, 'MISSING_VALUE'],
        ['an unknown list', listBody('EVERYTHING'), 'INVALID_CODE'],
        [
          'a filter on a referrer list',
          {
            ...listBody('AWAITING_BOOKING'),
            parameter: [
              ...listBody('AWAITING_BOOKING').parameter,
              filtered('FilteringByService').parameter[1],
            ],
          },
          'UNEXPECTED_FIELD',
        ],
        [
          'a specialty without its indicator',
          {
            ...filtered('FilteringBySpecialty'),
            parameter: filtered('FilteringBySpecialty').parameter.filter(
              (p: any) => p.name !== 'specialtyAssignedIndicator',
            ),
          },
          'INVALID_VALUE',
        ],
        [
          'an indicator of another code',
          (() => {
            const b = filtered('FilteringByClinician');
            b.parameter[1].valueCodeableConcept.coding[0].code = 'SOMETIMES';
            return b;
          })(),
          'INVALID_CODE',
        ],
        [
          'a service of another system',
          (() => {
            const b = filtered('FilteringByService');
            b.parameter[1].valueIdentifier.system = 'urn:x';
            return b;
          })(),
          'INVALID_VALUE',
        ],
      ];
      for (const [what, body, code] of cases) {
        const res = await worklist(t.provider, body);
        assert4xx(res, what);
        assertErs(res, res.statusCode, code);
      }
      // the published filters: by specialty (cardiology: listed), by another service, by clinician
      const bySpecialty = await worklist(t.provider, filtered('FilteringBySpecialty'));
      assert.equal(bySpecialty.statusCode, 200, bySpecialty.body);
      assert.ok(ubrnsOf(bySpecialty.json()).includes(ubrn));
      assert.ok(
        !ubrnsOf((await worklist(t.provider, filtered('FilteringByService'))).json()).includes(
          ubrn,
        ),
      );
      assert.deepEqual(
        ubrnsOf((await worklist(t.provider, filtered('FilteringByClinician'))).json()),
        [],
      );
      const slots = await worklist(t.provider, filtered('MinimalAppointmentSlotIssues'));
      assert.equal(slots.statusCode, 200, slots.body);
      assert.deepEqual(ubrnsOf(slots.json()), [], 'nothing deferred to the provider');
    });

    it('refuses bad available-action queries', async () => {
      const ubrn: string = (await sendForTriage()).json().id;
      const q = (query: string, who: Caller = t.provider) =>
        t.ers(who, { url: `${BASE}/Task?${query}` });
      const focus = `focus=ReferralRequest/${ubrn}/_history/1`;
      assertErs(await q('intent=proposal&status=ready'), 400, 'MISSING_PARAMETER');
      assertErs(await q(`${focus}&status=ready`), 400, 'MISSING_PARAMETER');
      assertErs(await q(`${focus}&intent=order&status=ready`), 400, 'INVALID_VALUE');
      assertErs(await q(`${focus}&intent=proposal&status=draft`), 400, 'INVALID_VALUE');
      assertErs(
        await q(`focus=ReferralRequest/${ubrn}&intent=proposal&status=ready`),
        400,
        'INVALID_VALUE',
      );
      assertErs(await q(`${focus}&${focus}&intent=proposal&status=ready`), 400, 'INVALID_VALUE');
      assertErs(await q(`${focus}&intent=proposal&status=ready&x=1`), 400, 'INVALID_VALUE');
      assertErs(
        await q(`focus=ReferralRequest/${ubrn}/_history/2&intent=proposal&status=ready`),
        400,
        'HISTORY_NOT_SUPPORTED',
      );
      assertErs(
        await q('focus=ReferralRequest/999999999999/_history/1&intent=proposal&status=ready'),
        400,
        'REFERENCE_NOT_FOUND',
      );
      assertErs(
        await q(`${focus}&intent=proposal&status=ready`, t.otherProvider),
        403,
        'NO_ACCESS',
      );
      assertErs(
        await q(`${focus}&intent=proposal&status=ready`, {
          ...t.provider,
          businessFunction: 'COMMISSIONER',
        }),
        403,
        'NO_ACCESS',
      );
    });

    it("lets a provider cancel a referral sent to it with the provider's reasons (a036)", async () => {
      const cancel = (
        ubrn: string,
        version: number,
        reason: string,
        who?: Caller,
        comments?: string,
      ) =>
        t.ers(who ?? t.provider, {
          method: 'POST',
          url: `${RR}/${ubrn}/$ers.cancelReferral`,
          headers: { 'if-match': `W/"${version}"` },
          body: {
            resourceType: 'Parameters',
            parameter: [
              {
                name: 'cancellationReason',
                valueCoding: {
                  system: 'https://fhir.nhs.uk/STU3/CodeSystem/REFERRAL-CANCELLATION-REASON',
                  code: reason,
                },
              },
              ...(comments ? [{ name: 'cancellationComments', valueString: comments }] : []),
            ],
          },
        });
      // a booked referral: the provider's and the patient's reasons, not the referrer's or triage's
      const booked: string = (await t.createReferral([SERVICES.bookable])).id;
      const version = await t.book(booked, SERVICES.bookable);
      assertErs(await cancel(booked, version, 'RAISED_IN_ERROR'), 422, 'INVALID_CODE');
      assertErs(await cancel(booked, version, 'TRIAGE_ENDED'), 422, 'INAPPROPRIATE_VALUE');
      assertErs(
        await cancel(booked, version, 'BOOKED_OUTSIDE_CAB', t.otherProvider),
        403,
        'NO_ACCESS',
      );
      const done = await cancel(booked, version, 'BOOKED_OUTSIDE_CAB');
      assert.equal(done.statusCode, 200, done.body);
      const cancelled = done.json().parameter[0].resource;
      assert.equal(stateOf(cancelled), 'CANCELLED_REFERRAL');
      const reason = stateExtension(cancelled).extension.find((e: any) => e.url === 'reason');
      assert.equal(reason.valueCoding.code, 'BOOKED_OUTSIDE_CAB');

      // a referral awaiting triage: the triage reasons only (comments where the code system says)
      const sent = await sendForTriage();
      assert.equal(sent.statusCode, 201, sent.body);
      const triage: string = sent.json().id;
      assertErs(await cancel(triage, 1, 'BOOKED_OUTSIDE_CAB'), 422, 'INAPPROPRIATE_VALUE');
      assertErs(await cancel(triage, 1, 'STRAIGHT_TO_TEST'), 422, 'MISSING_VALUE');
      const ended = await cancel(triage, 1, 'STRAIGHT_TO_TEST', undefined, 'Sent for a scan');
      assert.equal(ended.statusCode, 200, ended.body);
      assert.equal(stateOf(ended.json().parameter[0].resource), 'CANCELLED_REFERRAL');
      // the referrer still cancels only with the referrer's reasons
      const mine: string = (await t.createReferral([SERVICES.bookable])).id;
      assertErs(await cancel(mine, 1, 'BOOKED_OUTSIDE_CAB', t.referrer), 422, 'INVALID_CODE');
    });
  });
}
