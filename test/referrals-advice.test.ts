/**
 * Advice and guidance (A&G) on both stores, driven through the whole platform with the published
 * sandbox requests (test/fixtures/ers/published/, see SOURCES.md): a044 create -> a024 read (and
 * _history) -> a023 worklist -> a026 respond -> a025 conversation -> a027 convert -> a005 the
 * referral; the A&G state machine's refusals naming the state; business functions each operation
 * publishes; organisations that are no party; unknown, malformed and foreign UBRNs; stale versions;
 * X-Request-ID replay; malformed bodies (4xx, never 500).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import type { DeliveredMessage } from '../src/messaging/types.js';
import {
  buildHealthcareService,
  indexHealthcareService,
  type ErsProfile,
} from '../src/services/directory/index.js';
import { attachmentWrite, sha256Hex } from '../src/services/referrals/attachment-model.js';
import { commitPatients, currentJane, repoRoot, withNhsNumber } from './helpers/pds-fixtures.js';
import { startTestPlatform, type TestPlatform } from './helpers/platform.js';
import { storesUnderTest } from './helpers/stores.js';

const STU3 = '/referrals/FHIR/STU3';
const CR = `${STU3}/CommunicationRequest`;
const REFERRER = 'A81001';
const PROVIDER = 'R69';
const OTHER_ORG = 'B82001';
/** The patient and the service the published A&G examples name. */
const PATIENT = '9912003888';
const SERVICE = '11014';
const NO_ADVICE_SERVICE = '11015';
const CLOSED_SERVICE = '11016';
const URGENT_ONLY_SERVICE = '11017';
const ERS_CODES = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-APIErrorCode-1';
const OWN = 'openspine.dev';
/** The files the published examples attach (Binary ids), uploaded (a020) by the organisation that attaches them. */
const FILES = {
  'e1015896-92f4-4073-ad3c-5f30fca76448': { org: REFERRER, name: 'advice_attachment.txt' },
  '19eb7224-dff3-4730-a5cb-67eac811f1a5': { org: PROVIDER, name: 'treatment.txt' },
  'badaf6fc-90f4-411d-999f-04ccd79fa166': { org: PROVIDER, name: 'medication.txt' },
  '38dc19ab-893f-47ca-8db0-2d0a07c0e387': { org: PROVIDER, name: 'referral_letter.txt' },
  // uploaded for another UBRN (NHSD-eRS-Referral-ID)
  'c0ffee00-0000-4000-8000-000000000001': {
    org: PROVIDER,
    name: 'other.txt',
    referralId: '000000000001',
  },
} as Record<string, { org: string; name: string; referralId?: string }>;

const published = (name: string): any =>
  JSON.parse(readFileSync(resolve(repoRoot, 'test/fixtures/ers/published', name), 'utf8'));

/** The published RC request (not authorised to convert), or with AUTHORISED_TO_CONVERT. */
function createBody(opts: { authorised?: boolean; attachments?: boolean } = {}): any {
  if (!opts.attachments && !opts.authorised)
    return published('createAdviceAndGuidance-ExampleRCWithoutAttachments.json');
  // the RCA example: authorised, with an attachment; its referringClinician is an RCA's only
  const body = published('createAdviceAndGuidance-ExampleRCAWithAttachments.json');
  body.parameter = body.parameter.filter(
    (p: any) =>
      p.name !== 'referringClinician' && (opts.attachments || p.name !== 'requestAttachmentFile'),
  );
  return body;
}

const param = (body: any, name: string) => body.parameter.find((p: any) => p.name === name);
const withParam = (body: any, name: string, mutate: (p: any) => void) => {
  mutate(param(body, name));
  return body;
};
const without = (body: any, name: string) => ({
  ...body,
  parameter: body.parameter.filter((p: any) => p.name !== name),
});
const stateOf = (r: any): string => r.category[0].coding[0].code;
const referralStateOf = (r: any) =>
  r.extension.find((e: any) => e.url.endsWith('Extension-eRS-ReferralState-1')).extension;

function assertErs(res: LightMyRequestResponse, status: number, code: string): any {
  assert.equal(res.statusCode, status, res.body);
  const outcome = res.json();
  assert.equal(outcome.resourceType, 'OperationOutcome', res.body);
  assert.equal(outcome.issue[0].details.coding[0].system, ERS_CODES);
  assert.equal(outcome.issue[0].details.coding[0].code, code, res.body);
  assert.ok(outcome.issue[0].diagnostics);
  return outcome;
}

const PROFILE: ErsProfile = {
  specialty: 'CARDIOLOGY',
  clinicTypes: ['HEART_FAILURE'],
  flow: 'TRIAGE',
  priorities: ['ROUTINE', 'URGENT', 'TWO_WEEK_WAIT'],
  adviceAndGuidance: true,
};

for (const kind of await storesUnderTest()) {
  describe(`e-RS advice and guidance (${kind})`, () => {
    let platform: TestPlatform;
    let referrerToken: string;
    let providerToken: string;
    let otherToken: string;
    const events: DeliveredMessage[] = [];

    before(async () => {
      platform = await startTestPlatform(kind, {
        extraRoutes: (app) =>
          app.bus.consume(
            {
              name: 'test.ers-advice-events',
              topics: ['ers.advice.*', 'ers.referral.*'],
              retryDelayMs: 10,
            },
            async (m) => {
              events.push(m);
            },
          ),
      });
      await commitPatients(platform.repo, [withNhsNumber(currentJane(), PATIENT)]);
      const service = (id: string, name: string, ers: ErsProfile | undefined, active = true) =>
        buildHealthcareService({
          id,
          org: PROVIDER,
          name,
          types: ['outpatients'],
          active,
          endpoints: [],
          ers,
        });
      const services = [
        service(SERVICE, 'Cardiology Advice Service', PROFILE),
        service(NO_ADVICE_SERVICE, 'Cardiology Clinic', { ...PROFILE, adviceAndGuidance: false }),
        service(CLOSED_SERVICE, 'Closed Advice Service', PROFILE, false),
        service(URGENT_ONLY_SERVICE, 'Urgent Advice Service', {
          ...PROFILE,
          priorities: ['URGENT'],
        }),
      ];
      const bytes = Buffer.from('Advice attachment text.');
      await platform.repo.commit({
        resources: Object.entries(FILES).map(([id, f]) =>
          attachmentWrite({
            resourceType: 'ErsAttachment',
            id,
            contentType: 'text/plain',
            fileName: f.name,
            size: bytes.length,
            sha256: sha256Hex(bytes),
            data: bytes.toString('base64'),
            ...(f.referralId ? { referralId: f.referralId } : {}),
            uploadedBy: { user: f.org === REFERRER ? '021600556514' : '103264994981', org: f.org },
            uploaded: '2026-01-02T03:04:05.000Z',
          }),
        ),
      });
      await platform.repo.commit({
        resources: services.map((s) => ({
          type: 'HealthcareService',
          id: s.id!,
          expectedVersion: 0,
          resource: s,
          index: indexHealthcareService(s),
        })),
      });
      referrerToken = await platform.token('R8000', { org: REFERRER, user: '021600556514' });
      providerToken = await platform.token('R8000', { org: PROVIDER, user: '103264994981' });
      otherToken = await platform.token('R8000', { org: OTHER_ORG, user: 'other-clinician' });
    });
    after(() => platform.close());

    type Call = {
      method?: string;
      url: string;
      body?: unknown;
      headers?: Record<string, string>;
      businessFunction?: string;
      as?: 'referrer' | 'provider' | 'other';
    };
    const ers = (c: Call) => {
      const as = c.as ?? 'referrer';
      const [token, ods] =
        as === 'referrer'
          ? [referrerToken, REFERRER]
          : as === 'provider'
            ? [providerToken, PROVIDER]
            : [otherToken, OTHER_ORG];
      const fn =
        c.businessFunction ??
        (as === 'provider' ? 'SERVICE_PROVIDER_CLINICIAN' : 'REFERRING_CLINICIAN');
      return platform.request({
        method: c.method ?? 'GET',
        url: c.url,
        body: c.body,
        token,
        headers: {
          'nhsd-ers-business-function': fn,
          'nhsd-end-user-organisation-ods': ods,
          ...c.headers,
        },
      });
    };
    const create = (body: unknown = createBody(), extra: Partial<Call> = {}) =>
      ers({ method: 'POST', url: `${CR}/$ers.createAdviceAndGuidance`, body, ...extra });
    const createOk = async (opts: Parameters<typeof createBody>[0] = {}) => {
      const res = await create(createBody(opts));
      assert.equal(res.statusCode, 200, res.body);
      return res.json().parameter[0].resource.id as string;
    };
    const respond = (
      ubrn: string,
      version: number | null,
      body: unknown,
      extra: Partial<Call> = {},
    ) =>
      ers({
        method: 'POST',
        url: `${CR}/${ubrn}/$ers.sendCommunicationToRequester`,
        body,
        as: 'provider',
        ...extra,
        headers: {
          ...(version === null ? {} : { 'if-match': `W/"${version}"` }),
          ...extra.headers,
        },
      });
    const convertBody = (
      ubrn: string,
      version: number,
      file = 'convertAdviceAndGuidanceToReferral-NoAttachments.json',
    ) =>
      withParam(published(file), 'createFrom', (p) => {
        p.valueReference.reference = `CommunicationRequest/${ubrn}/_history/${version}`;
      });
    const convert = (body: unknown, extra: Partial<Call> = {}) =>
      ers({
        method: 'POST',
        url: `${STU3}/ReferralRequest/$ers.createFromCommunicationRequestActionLater`,
        body,
        as: 'provider',
        ...extra,
      });
    const conversation = (ubrn: string, version: number, extra: Partial<Call> = {}, include = '') =>
      ers({
        url: `${STU3}/Communication?based-on=CommunicationRequest/${ubrn}/_history/${version}${include}`,
        ...extra,
      });
    const worklist = (
      body: unknown = published(
        'retrieveAdviceAndGuidanceWorklist-MinimalAdviceAndGuidanceRequests.json',
      ),
      extra: Partial<Call> = {},
    ) => ers({ method: 'POST', url: `${CR}/$ers.fetchworklist`, body, as: 'provider', ...extra });
    const worklistUbrns = async () => {
      const res = await worklist();
      assert.equal(res.statusCode, 200, res.body);
      return res
        .json()
        .entry.map((e: any) => e.item.reference.replace('CommunicationRequest/', ''));
    };

    it('creates a request as published, reads it, lists it, answers it, and shows the conversation in order', async () => {
      const res = await create();
      assert.equal(res.statusCode, 200, res.body);
      const answer = res.json();
      const model = published('createAdviceAndGuidance-Response-ExampleRCWithoutAttachments.json');
      assert.deepEqual(answer.meta, model.meta);
      assert.deepEqual(
        answer.parameter.map((p: any) => p.name),
        model.parameter.map((p: any) => p.name),
      );
      const request = answer.parameter[0].resource;
      const modelRequest = model.parameter[0].resource;
      const ubrn: string = request.id;
      assert.match(ubrn, /^[0-9]{12}$/);
      assert.deepEqual(Object.keys(request).sort(), Object.keys(modelRequest).sort());
      assert.deepEqual(
        request.extension.map((e: any) => e.url),
        modelRequest.extension.map((e: any) => e.url),
      );
      assert.deepEqual(request.meta.profile, modelRequest.meta.profile);
      assert.equal(request.meta.versionId, '1');
      assert.equal(stateOf(request), 'PROVIDER_RESPONSE_REQUIRED');
      assert.equal(request.status, 'active');
      assert.deepEqual(request.subject, modelRequest.subject);
      assert.deepEqual(request.recipient, modelRequest.recipient);
      assert.deepEqual(
        request.contained.map((c: any) => c.id),
        [
          'serviceSearchCriteria',
          'shortlist',
          'PractitionerRole.021600556514.A81001.REFERRING-CLINICIAN',
        ],
      );
      assert.equal(request.contained[1].entry[0].item.display, 'Cardiology Advice Service');
      assert.match(request.identifier[0].value, /^a\.[0-9a-f-]{36}$/);
      assert.ok(!JSON.stringify(answer).includes(OWN), 'OpenSpine extensions hidden');
      const first = answer.parameter[1].resource;
      const modelFirst = model.parameter[1].resource;
      assert.deepEqual(Object.keys(first).sort(), Object.keys(modelFirst).sort());
      assert.equal(first.category[0].coding[0].code, 'REQUESTER');
      assert.deepEqual(first.basedOn, [{ reference: `CommunicationRequest/${ubrn}/_history/1` }]);
      assert.deepEqual(first.note, [{ text: 'Request text.' }]);
      assert.deepEqual(first.recipient, modelFirst.recipient);

      // a024: both parties read it; only the current version is retrievable
      for (const as of ['referrer', 'provider'] as const) {
        const read = await ers({ url: `${CR}/${ubrn}`, as });
        assert.equal(read.statusCode, 200, read.body);
        assert.equal(read.headers.etag, 'W/"1"');
        assert.deepEqual(read.json(), request);
      }
      assert.equal((await ers({ url: `${CR}/${ubrn}/_history/1` })).statusCode, 200);
      assertErs(await ers({ url: `${CR}/${ubrn}/_history/2` }), 404, 'REC_NOT_FOUND');

      // a023: on the provider's worklist, as published
      const list = await worklist();
      assert.equal(list.statusCode, 200, list.body);
      const entry = list
        .json()
        .entry.find((e: any) => e.item.reference === `CommunicationRequest/${ubrn}`);
      assert.ok(entry, 'listed');
      const item = Object.fromEntries(entry.extension[0].extension.map((e: any) => [e.url, e]));
      assert.equal(item.category.valueCodeableConcept.coding[0].code, 'PROVIDER_RESPONSE_REQUIRED');
      assert.equal(item.communicationRequestVersion.valueInteger, 1);
      assert.equal(item.patient.valueReference.identifier.value, PATIENT);
      assert.equal(item.referrer.valueReference.identifier.value, '021600556514');
      assert.equal(item.service.valueReference.display, 'Cardiology Advice Service');

      // narrowed to a service or a specialty (index rows, not a scan)
      const narrowed = (name: string, value: unknown) =>
        worklist({
          ...published('retrieveAdviceAndGuidanceWorklist-MinimalAdviceAndGuidanceRequests.json'),
          parameter: [
            ...published('retrieveAdviceAndGuidanceWorklist-MinimalAdviceAndGuidanceRequests.json')
              .parameter,
            { name, ...(value as object) },
          ],
        });
      const listed = async (res: LightMyRequestResponse) => {
        assert.equal(res.statusCode, 200, res.body);
        return res.json().entry.map((e: any) => e.item.reference);
      };
      const ref = `CommunicationRequest/${ubrn}`;
      const serviceId = (value: string) => ({
        valueIdentifier: { system: 'http://fhir.nhs.net/Id/ers-service', value },
      });
      const specialty = (code: string) => ({
        valueCodeableConcept: { coding: [{ system: 'x', code }] },
      });
      assert.ok((await listed(await narrowed('service', serviceId(SERVICE)))).includes(ref));
      assert.ok(
        !(await listed(await narrowed('service', serviceId(NO_ADVICE_SERVICE)))).includes(ref),
      );
      assert.ok((await listed(await narrowed('specialty', specialty('CARDIOLOGY')))).includes(ref));
      assert.ok(
        !(await listed(await narrowed('specialty', specialty('DERMATOLOGY')))).includes(ref),
      );

      // a026: the provider asks for more information
      const answered = await respond(
        ubrn,
        1,
        published('sendAdviceAndGuidanceResponse-RequireFurtherInformation.json'),
      );
      assert.equal(answered.statusCode, 200, answered.body);
      assert.equal(answered.headers.etag, 'W/"2"');
      const [updated, reply] = answered.json().parameter.map((p: any) => p.resource);
      assert.equal(answered.json().parameter[0].name, 'updatedCommunicationRequest');
      assert.equal(stateOf(updated), 'REFERRER_TO_SUBMIT_FURTHER_INFORMATION');
      assert.equal(updated.meta.versionId, '2');
      assert.equal(updated.extension[0].valueCodeableConcept.coding[0].code, 'TWO_WEEK_WAIT');
      assert.equal(reply.category[0].coding[0].code, 'RESPONDER');
      assert.deepEqual(reply.basedOn, [{ reference: `CommunicationRequest/${ubrn}/_history/2` }]);
      assert.deepEqual(reply.recipient, [
        { identifier: { system: 'https://fhir.nhs.uk/Id/ods-organization-code', value: REFERRER } },
      ]);
      assert.deepEqual(reply.note, [{ text: 'Please supply me with xxx test results' }]);
      assert.ok(!JSON.stringify(answered.json()).includes(OWN));

      // an illegal second answer names the state; nothing changes
      const again = await respond(
        ubrn,
        2,
        published('sendAdviceAndGuidanceResponse-ReturnToReferrerWithAdvice.json'),
      );
      const outcome = assertErs(again, 422, 'INVALID_REQUEST_STATE');
      assert.match(outcome.issue[0].diagnostics, /'REFERRER_TO_SUBMIT_FURTHER_INFORMATION'/);
      assertErs(await convert(convertBody(ubrn, 2)), 422, 'INVALID_REQUEST_STATE');
      assert.equal((await ers({ url: `${CR}/${ubrn}` })).json().meta.versionId, '2');

      // a025: every message in the order sent, PractitionerRoles included by reference
      const conv = await conversation(ubrn, 2, { as: 'provider' });
      assert.equal(conv.statusCode, 200, conv.body);
      const bundle = conv.json();
      assert.equal(bundle.resourceType, 'Bundle');
      assert.equal(bundle.type, 'searchset');
      assert.equal(bundle.total, 2);
      const matches = bundle.entry.filter((e: any) => e.search.mode === 'match');
      assert.deepEqual(
        matches.map((e: any) => e.resource.category[0].coding[0].code),
        ['REQUESTER', 'RESPONDER'],
      );
      assert.deepEqual(
        matches.map((e: any) => e.resource.note[0].text),
        ['Request text.', 'Please supply me with xxx test results'],
      );
      assert.equal(
        matches[0].resource.sender.extension[0].valueReference.reference,
        'PractitionerRole/021600556514.A81001.REFERRING-CLINICIAN',
      );
      const included = bundle.entry
        .filter((e: any) => e.search.mode === 'include')
        .map((e: any) => e.resource.id);
      assert.deepEqual(included.sort(), [
        '021600556514.A81001.REFERRING-CLINICIAN',
        '103264994981.R69.SERVICE-PROVIDER-CLINICIAN',
      ]);
      assert.ok(!matches.some((e: any) => e.resource.contained), 'nothing left contained');
      const onlyDocs = await conversation(
        ubrn,
        2,
        {},
        '&_include=Communication:content-reference:DocumentReference',
      );
      assert.equal(onlyDocs.json().entry.length, 2, 'roles only when asked for');
      assertErs(await conversation(ubrn, 1), 404, 'REC_NOT_FOUND');

      // a043: the overview PDF, for either party
      const pdf = await ers({
        method: 'POST',
        url: `${CR}/${ubrn}/$ers.generateCRI`,
        as: 'provider',
      });
      assert.equal(pdf.statusCode, 200, pdf.body);
      assert.equal(pdf.headers['content-type'], 'application/pdf');
      assert.match(
        String(pdf.headers['content-disposition']),
        new RegExp(`^attachment; filename="${ubrn}_Advice_And_Guidance_[0-9]{14}\\.pdf"$`),
      );
      assert.equal(pdf.rawPayload.subarray(0, 5).toString(), '%PDF-');
      assert.equal(Number(pdf.headers['content-length']), pdf.rawPayload.length);
      assertErs(
        await ers({ method: 'POST', url: `${CR}/${ubrn}/$ers.generateCRI`, as: 'other' }),
        422,
        'NO_RELATIONSHIP',
      );
      assertErs(
        await ers({ method: 'POST', url: `${CR}/999999999999/$ers.generateCRI` }),
        404,
        'REC_NOT_FOUND',
      );

      // every step audited against the patient; events on the outbox
      const audit = (await platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      for (const action of [
        'ers.advice.overview',
        'ers.advice.create',
        'ers.advice.read',
        'ers.advice.worklist',
        'ers.advice.respond',
        'ers.advice.conversation',
      ])
        assert.ok(
          audit.some(
            (r) => r.action === action && r.patient === PATIENT && r.outcome === 'success',
          ),
          action,
        );
      for (
        let i = 0;
        i < 200 &&
        !events.some((e) => e.topic === 'ers.advice.responded' && (e.body as any).ubrn === ubrn);
        i++
      )
        await new Promise((r) => setTimeout(r, 25));
      const mine = events.filter((e) => (e.body as any).ubrn === ubrn);
      assert.deepEqual(
        mine.map((e) => e.topic),
        ['ers.advice.created', 'ers.advice.responded'],
      );
      assert.equal(mine[0].key, PATIENT);
      assert.equal((mine[1].body as any).outcome, 'REQUIRE_FURTHER_INFORMATION');
    });

    it('returns advice to the referrer, with attachments by reference', async () => {
      const ubrn = await createOk({ attachments: true });
      const conv1 = (await conversation(ubrn, 1)).json();
      const doc1 = conv1.entry.find((e: any) => e.resource.resourceType === 'DocumentReference');
      const file1 = doc1.resource.content[0].attachment;
      assert.equal(file1.url, 'Binary/e1015896-92f4-4073-ad3c-5f30fca76448');
      assert.equal(file1.title, 'advice_attachment.txt');
      assert.equal(file1.contentType, 'text/plain');
      assert.equal(file1.size, 23);
      assert.equal(file1.creation, '2026-01-02');
      assert.equal(file1.extension[0].valueCoding.code, 'AVAILABLE');
      assert.equal(
        conv1.entry[0].resource.payload[0].contentReference.reference,
        `DocumentReference/${doc1.resource.id}`,
      );

      const res = await respond(
        ubrn,
        1,
        published('sendAdviceAndGuidanceResponse-AttachmentIncluded.json'),
      );
      assert.equal(res.statusCode, 200, res.body);
      const [updated, reply] = res.json().parameter.map((p: any) => p.resource);
      assert.equal(stateOf(updated), 'REFERRER_TO_REVIEW_RESPONSE');
      const doc = reply.contained.find((c: any) => c.resourceType === 'DocumentReference');
      assert.equal(reply.payload[0].contentReference.reference, `#${doc.id}`);
      assert.equal(doc.type.coding[0].code, 'GUIDANCE_RESPONSE');
      assert.equal(doc.content[0].attachment.url, 'Binary/19eb7224-dff3-4730-a5cb-67eac811f1a5');
      const conv = (await conversation(ubrn, 2)).json();
      assert.equal(conv.total, 2);
      assert.equal(
        conv.entry.filter((e: any) => e.resource.resourceType === 'DocumentReference').length,
        2,
      );
      // still open: the referrer reviews the response
      assert.ok((await worklistUbrns()).includes(ubrn));

      // files must be uploaded, by the attaching organisation, for no other request, once each
      const other = await createOk();
      const attach = (url: string, times = 1) => {
        const body = published('sendAdviceAndGuidanceResponse-AttachmentIncluded.json');
        const file = param(body, 'guidanceAttachmentFile');
        file.resource.content[0].attachment.url = url;
        body.parameter.push(...Array.from({ length: times - 1 }, () => structuredClone(file)));
        return body;
      };
      assertErs(
        await respond(other, 1, attach(`Binary/${randomUUID()}`)),
        422,
        'REFERENCE_NOT_FOUND',
      );
      assertErs(
        await respond(other, 1, attach('Binary/e1015896-92f4-4073-ad3c-5f30fca76448')),
        422,
        'INAPPROPRIATE_VALUE',
      );
      assertErs(
        await respond(other, 1, attach('Binary/c0ffee00-0000-4000-8000-000000000001')),
        422,
        'INAPPROPRIATE_VALUE',
      );
      assertErs(
        await respond(other, 1, attach('Binary/19eb7224-dff3-4730-a5cb-67eac811f1a5', 2)),
        422,
        'DUPLICATE_FILENAME',
      );
      const theirs = createBody({ attachments: true });
      param(theirs, 'requestAttachmentFile').resource.content[0].attachment.url =
        'Binary/19eb7224-dff3-4730-a5cb-67eac811f1a5';
      assertErs(await create(theirs), 422, 'INAPPROPRIATE_VALUE');
      assert.equal((await ers({ url: `${CR}/${other}` })).json().meta.versionId, '1');
    });

    it('converts an authorised request into a readable referral, linked both ways', async () => {
      const ubrn = await createOk({ authorised: true });
      const res = await convert(
        convertBody(ubrn, 1, 'convertAdviceAndGuidanceToReferral-WithAttachments.json'),
      );
      assert.equal(res.statusCode, 201, res.body);
      const referral = res.json();
      assert.equal(referral.resourceType, 'ReferralRequest');
      assert.equal(referral.id, ubrn, 'the referral keeps the UBRN');
      assert.equal(res.headers.etag, 'W/"1"');
      const state = referralStateOf(referral);
      assert.equal(
        state.find((e: any) => e.url === 'state').valueCoding.code,
        'TRIAGED_PROVIDER_TO_ACTION',
      );
      assert.equal(
        state.find((e: any) => e.url === 'reason').valueCoding.code,
        'PROVIDER_CONVERTED_ADVICE_AND_GUIDANCE_ADMIN_TO_REFER',
      );
      assert.equal(
        state.find((e: any) => e.url === 'comments').valueString,
        "Book patient to 'xxx' service to include attached file as referral letter",
      );
      assert.ok(
        referral.supportingInfo.some((s: any) => s.reference === `CommunicationRequest/${ubrn}`),
      );
      assert.ok(referral.contained.some((c: any) => c.resourceType === 'DocumentReference'));
      assert.equal(referral.subject.identifier.value, PATIENT);
      assert.ok(!JSON.stringify(referral).includes(OWN));

      // a005: the referring organisation reads the referral
      const read = await ers({ url: `${STU3}/ReferralRequest/${ubrn}` });
      assert.equal(read.statusCode, 200, read.body);
      assert.deepEqual(read.json(), referral);
      // and so does the provider it was sent to, who converted it
      const byProvider = await ers({ url: `${STU3}/ReferralRequest/${ubrn}`, as: 'provider' });
      assert.equal(byProvider.statusCode, 200, byProvider.body);
      const review = referral.contained.find((c: any) => c.resourceType === 'DocumentReference');
      assert.equal(review.content[0].attachment.title, 'referral_letter.txt');
      assert.equal(review.type.coding[0].code, 'PROVIDER');

      // the request is converted, its guidance the last message, and off the worklist
      const request = (await ers({ url: `${CR}/${ubrn}` })).json();
      assert.equal(stateOf(request), 'ADVICE_CONVERTED');
      assert.equal(request.status, 'completed');
      assert.equal(request.meta.versionId, '2');
      const conv = (await conversation(ubrn, 2, { as: 'provider' })).json();
      const last = conv.entry.filter((e: any) => e.search.mode === 'match').at(-1).resource;
      assert.equal(last.category[0].coding[0].code, 'RESPONDER');
      assert.match(last.note[0].text, /^Patient booked into our service/);
      assert.ok(!(await worklistUbrns()).includes(ubrn));
      // converting again is refused by state; nothing changes
      assertErs(await convert(convertBody(ubrn, 2)), 422, 'INVALID_REQUEST_STATE');
      assert.equal(
        (await ers({ url: `${STU3}/ReferralRequest/${ubrn}` })).json().meta.versionId,
        '1',
      );

      for (
        let i = 0;
        i < 200 &&
        !events.some((e) => e.topic === 'ers.referral.created' && (e.body as any).ubrn === ubrn);
        i++
      )
        await new Promise((r) => setTimeout(r, 25));
      const topics = events
        .filter((e) => (e.body as any).ubrn === ubrn)
        .map((e) => e.topic)
        .sort();
      assert.deepEqual(topics, [
        'ers.advice.converted',
        'ers.advice.created',
        'ers.referral.created',
      ]);
      const audit = (await platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      assert.ok(
        audit.some((r) => r.action === 'ers.advice.convert' && (r.detail as any)?.ubrn === ubrn),
      );
      assert.ok(
        audit.some(
          (r) => r.action === 'ers.referral.create' && (r.detail as any)?.fromAdvice === ubrn,
        ),
      );
    });

    it('refuses conversion the referrer did not authorise, and priorities the service does not take', async () => {
      const ubrn = await createOk();
      assertErs(await convert(convertBody(ubrn, 1)), 422, 'INAPPROPRIATE_VALUE');
      const urgent = withParam(
        published('sendAdviceAndGuidanceResponse-RequireFurtherInformation.json'),
        'updatedPriority',
        (p) => (p.valueCoding.code = 'ROUTINE'),
      );
      const body = createBody();
      body.parameter.find(
        (p: any) => p.name === 'shortlist',
      ).resource.entry[0].item.identifier.value = URGENT_ONLY_SERVICE;
      assertErs(await create(body), 422, 'SHORTLISTED_SERVICE_NOT_IN_RESULTS');
      const criteria = body.parameter.find((p: any) => p.name === 'shortlist').resource
        .contained[0];
      criteria.parameter.find((p: any) => p.name === 'priority').valueCoding.code = 'URGENT';
      const made = await create(body);
      assert.equal(made.statusCode, 200, made.body);
      const urgentUbrn = made.json().parameter[0].resource.id;
      assertErs(await respond(urgentUbrn, 1, urgent), 422, 'UNSUPPORTED_PRIORITY');
      assert.equal((await ers({ url: `${CR}/${urgentUbrn}` })).json().meta.versionId, '1');
    });

    it('allows each operation only the business functions it publishes', async () => {
      const ubrn = await createOk();
      // the provider's functions cannot create; a referrer cannot answer, convert or list
      assertErs(
        await create(createBody(), { businessFunction: 'SERVICE_PROVIDER_CLINICIAN' }),
        403,
        'NO_ACCESS',
      );
      assertErs(
        await respond(
          ubrn,
          1,
          published('sendAdviceAndGuidanceResponse-RequireFurtherInformation.json'),
          {
            as: 'referrer',
            businessFunction: 'REFERRING_CLINICIAN',
          },
        ),
        403,
        'NO_ACCESS',
      );
      assertErs(
        await convert(convertBody(ubrn, 1), {
          as: 'referrer',
          businessFunction: 'REFERRING_CLINICIAN',
        }),
        403,
        'NO_ACCESS',
      );
      assertErs(
        await worklist(undefined, { as: 'referrer', businessFunction: 'REFERRING_CLINICIAN' }),
        403,
        'NO_ACCESS',
      );
      // a SERVICE_PROVIDER_ADMIN lists the worklist (published) but may not read the request (not published)
      assert.equal(
        (await worklist(undefined, { businessFunction: 'SERVICE_PROVIDER_ADMIN' })).statusCode,
        200,
      );
      assertErs(
        await ers({
          url: `${CR}/${ubrn}`,
          as: 'provider',
          businessFunction: 'SERVICE_PROVIDER_ADMIN',
        }),
        403,
        'NO_ACCESS',
      );
      assertErs(
        await ers({ url: `${CR}/${ubrn}`, businessFunction: 'COMMISSIONER' }),
        403,
        'NO_ACCESS',
      );
      // the RC example is refused its referringClinician (an RCA's field)
      const rca = published('createAdviceAndGuidance-ExampleRCAWithAttachments.json');
      assertErs(await create(rca), 422, 'FIELD_NOT_PERMITTED');
      // a role without ers.advice is refused by the platform's policy
      const student = await platform.token('R8004', { org: REFERRER });
      const res = await platform.request({
        method: 'POST',
        url: `${CR}/$ers.createAdviceAndGuidance`,
        body: createBody(),
        token: student,
        headers: {
          'nhsd-ers-business-function': 'REFERRING_CLINICIAN',
          'nhsd-end-user-organisation-ods': REFERRER,
        },
      });
      assert.equal(res.statusCode, 403);
      assertErs(
        await create(createBody(), { headers: { 'nhsd-end-user-organisation-ods': OTHER_ORG } }),
        403,
        'NO_ACCESS',
      );
    });

    it('refuses organisations that are no party (audited), and the referrer where only the provider may act', async () => {
      const ubrn = await createOk({ authorised: true });
      assertErs(await ers({ url: `${CR}/${ubrn}`, as: 'other' }), 422, 'NO_RELATIONSHIP');
      assertErs(
        await ers({ url: `${CR}/${ubrn}/_history/1`, as: 'other' }),
        422,
        'NO_RELATIONSHIP',
      );
      assertErs(await conversation(ubrn, 1, { as: 'other' }), 400, 'NO_RELATIONSHIP');
      const other = { as: 'other' as const, businessFunction: 'SERVICE_PROVIDER_CLINICIAN' };
      assertErs(
        await respond(
          ubrn,
          1,
          published('sendAdviceAndGuidanceResponse-RequireFurtherInformation.json'),
          other,
        ),
        422,
        'NO_RELATIONSHIP',
      );
      assertErs(await convert(convertBody(ubrn, 1), other), 422, 'NO_RELATIONSHIP');
      // the referring organisation acting as a provider is still the referrer
      const asReferrerOrg = {
        as: 'referrer' as const,
        businessFunction: 'SERVICE_PROVIDER_CLINICIAN',
      };
      assertErs(
        await respond(
          ubrn,
          1,
          published('sendAdviceAndGuidanceResponse-RequireFurtherInformation.json'),
          asReferrerOrg,
        ),
        422,
        'NO_RELATIONSHIP',
      );
      const othersList = await worklist(undefined, other);
      assert.equal(othersList.statusCode, 200, othersList.body);
      assert.equal(othersList.json().entry.length, 0, "not on another's worklist");
      assert.equal((await ers({ url: `${CR}/${ubrn}` })).json().meta.versionId, '1');
      const audit = (await platform.repo.audit.readAudit(0, 100_000)).map((e) => e.record);
      assert.ok(
        audit.some(
          (r) =>
            r.outcome === 'refused' && r.patient === PATIENT && (r.detail as any)?.ubrn === ubrn,
        ),
      );
    });

    it('answers unknown, malformed and foreign UBRNs', async () => {
      const unknown = '999999999999';
      assertErs(await ers({ url: `${CR}/${unknown}` }), 404, 'REC_NOT_FOUND');
      assertErs(await conversation(unknown, 1), 404, 'REC_NOT_FOUND');
      assertErs(
        await respond(
          unknown,
          1,
          published('sendAdviceAndGuidanceResponse-RequireFurtherInformation.json'),
        ),
        404,
        'REC_NOT_FOUND',
      );
      assertErs(await convert(convertBody(unknown, 1)), 404, 'REC_NOT_FOUND');
      assertErs(await ers({ url: `${CR}/12345` }), 400, 'INVALID_VALUE');
      assertErs(await ers({ url: `${CR}/${unknown}/_history/x` }), 400, 'INVALID_VALUE');
      // a referral's UBRN is no A&G request
      const made = await createOk({ authorised: true });
      assert.equal((await convert(convertBody(made, 1))).statusCode, 201);
      const referral = await platform.request({
        method: 'POST',
        url: `${STU3}/ReferralRequest/$ers.createReferral`,
        token: referrerToken,
        headers: {
          'nhsd-ers-business-function': 'REFERRING_CLINICIAN',
          'nhsd-end-user-organisation-ods': REFERRER,
        },
        body: {
          resourceType: 'Parameters',
          parameter: [
            {
              name: 'patient',
              valueIdentifier: { system: 'http://fhir.nhs.net/Id/nhs-number', value: PATIENT },
            },
            {
              name: 'shortlist',
              resource: {
                resourceType: 'List',
                entry: [
                  {
                    item: {
                      identifier: { system: 'http://fhir.nhs.net/Id/ers-service', value: SERVICE },
                    },
                  },
                ],
              },
            },
          ],
        },
      });
      assert.equal(referral.statusCode, 201, referral.body);
      assertErs(await ers({ url: `${CR}/${referral.json().id}` }), 422, 'INVALID_REQUEST_TYPE');
      assertErs(await conversation(referral.json().id, 1), 400, 'INVALID_REQUEST_TYPE');
      assertErs(
        await ers({ method: 'POST', url: `${CR}/${referral.json().id}/$ers.generateCRI` }),
        422,
        'INVALID_REQUEST_TYPE',
      );
    });

    it('refuses stale and missing versions, changing nothing', async () => {
      const ubrn = await createOk({ authorised: true });
      const body = published('sendAdviceAndGuidanceResponse-RequireFurtherInformation.json');
      assertErs(await respond(ubrn, 7, body), 409, 'VERSION_MISMATCH');
      assertErs(await respond(ubrn, null, body), 412, 'MISSING_VALUE');
      assertErs(
        await respond(ubrn, null, body, { headers: { 'if-match': '"1"' } }),
        412,
        'INVALID_VALUE',
      );
      assertErs(await convert(convertBody(ubrn, 9)), 409, 'VERSION_MISMATCH');
      assert.equal((await ers({ url: `${CR}/${ubrn}` })).json().meta.versionId, '1');
      assert.equal((await conversation(ubrn, 1)).json().total, 1);

      // two different answers racing at one version: one is applied, the other refused in eRS words
      const raced = await Promise.all([
        respond(ubrn, 1, body),
        respond(
          ubrn,
          1,
          published('sendAdviceAndGuidanceResponse-ReturnToReferrerWithAdvice.json'),
        ),
      ]);
      assert.deepEqual(
        raced.map((r) => r.statusCode).filter((s) => s === 200),
        [200],
        raced[0].body + raced[1].body,
      );
      const loser = raced.find((r) => r.statusCode !== 200)!;
      const code = loser.json().issue[0].details.coding[0].code;
      assert.ok(['VERSION_MISMATCH', 'INVALID_REQUEST_STATE'].includes(code), loser.body);
      assert.equal((await ers({ url: `${CR}/${ubrn}` })).json().meta.versionId, '2');
      assert.equal((await conversation(ubrn, 2)).json().total, 2);
    });

    it('answers an X-Request-ID retry as before, applying the change once', async () => {
      const id = randomUUID();
      const first = await create(createBody(), { headers: { 'x-request-id': id } });
      const retry = await create(createBody(), { headers: { 'x-request-id': id } });
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(retry.statusCode, 200, retry.body);
      assert.deepEqual(retry.json(), first.json());
      const ubrn = first.json().parameter[0].resource.id;
      const body = published('sendAdviceAndGuidanceResponse-ReturnToReferrerWithAdvice.json');
      const rid = randomUUID();
      const a = await respond(ubrn, 1, body, { headers: { 'x-request-id': rid } });
      const b = await respond(ubrn, 1, body, { headers: { 'x-request-id': rid } });
      assert.equal(a.statusCode, 200, a.body);
      assert.equal(b.statusCode, 200, b.body);
      assert.deepEqual(b.json(), a.json());
      assert.equal((await ers({ url: `${CR}/${ubrn}` })).json().meta.versionId, '2');
      assert.equal((await conversation(ubrn, 2)).json().total, 2);
      // the id reused for another request is refused
      const reuse = await respond(
        ubrn,
        2,
        published('sendAdviceAndGuidanceResponse-RequireFurtherInformation.json'),
        {
          headers: { 'x-request-id': rid },
        },
      );
      assert.equal(reuse.statusCode, 400, reuse.body);
      const conv = await createOk({ authorised: true });
      const cid = randomUUID();
      const c1 = await convert(convertBody(conv, 1), { headers: { 'x-request-id': cid } });
      const c2 = await convert(convertBody(conv, 1), { headers: { 'x-request-id': cid } });
      assert.equal(c1.statusCode, 201, c1.body);
      assert.equal(c2.statusCode, 201, c2.body);
      assert.deepEqual(c2.json(), c1.json());
    });

    it('refuses unsuitable services', async () => {
      const to = (service: string) =>
        withParam(
          createBody(),
          'shortlist',
          (p) => (p.resource.entry[0].item.identifier.value = service),
        );
      assertErs(await create(to('99999')), 422, 'REFERENCE_NOT_FOUND');
      assertErs(await create(to(NO_ADVICE_SERVICE)), 422, 'INAPPROPRIATE_VALUE');
      assertErs(await create(to(CLOSED_SERVICE)), 422, 'INAPPROPRIATE_VALUE');
      const two = createBody();
      param(two, 'shortlist').resource.entry.push({
        item: {
          identifier: { system: 'http://fhir.nhs.net/Id/ers-service', value: NO_ADVICE_SERVICE },
        },
      });
      assertErs(await create(two), 422, 'TOO_MANY_ITEMS');
      const wrongSpecialty = withParam(createBody(), 'shortlist', (p) => {
        p.resource.contained[0].parameter.find(
          (x: any) => x.name === 'specialty',
        ).valueCoding.code = 'DERMATOLOGY';
      });
      assertErs(await create(wrongSpecialty), 422, 'SHORTLISTED_SERVICE_NOT_IN_RESULTS');
    });

    it('refuses malformed requests with a 4xx, never a 500', async () => {
      const ubrn = await createOk({ authorised: true });
      const createCases: [string, unknown, number, string][] = [
        ['not Parameters', { resourceType: 'Patient' }, 422, 'INVALID_FHIR_STRUCTURE'],
        ['an array', [], 422, 'INVALID_FHIR_STRUCTURE'],
        ['null', null, 422, 'INVALID_FHIR_STRUCTURE'],
        [
          'parameter holding null',
          { resourceType: 'Parameters', parameter: [null] },
          422,
          'INVALID_FHIR_STRUCTURE',
        ],
        ['no patient', without(createBody(), 'patient'), 422, 'MISSING_VALUE'],
        ['no shortlist', without(createBody(), 'shortlist'), 422, 'MISSING_VALUE'],
        ['no request', without(createBody(), 'request'), 422, 'MISSING_VALUE'],
        [
          'no authorisation',
          without(createBody(), 'providerConversionAuthorisation'),
          422,
          'MISSING_VALUE',
        ],
        [
          'an unknown parameter',
          { ...createBody(), parameter: [...createBody().parameter, { name: 'x' }] },
          422,
          'UNEXPECTED_FIELD',
        ],
        [
          'a repeated parameter',
          {
            ...createBody(),
            parameter: [...createBody().parameter, param(createBody(), 'request')],
          },
          422,
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'an invalid NHS Number',
          withParam(createBody(), 'patient', (p) => (p.valueIdentifier.value = '1234567890')),
          422,
          'INVALID_VALUE',
        ],
        [
          'a patient of another system',
          withParam(createBody(), 'patient', (p) => (p.valueIdentifier.system = 'urn:x')),
          422,
          'INVALID_VALUE',
        ],
        [
          'an unknown authorisation',
          withParam(
            createBody(),
            'providerConversionAuthorisation',
            (p) => (p.valueCoding.code = 'MAYBE'),
          ),
          422,
          'INVALID_CODE',
        ],
        [
          'an empty request',
          withParam(createBody(), 'request', (p) => (p.valueString = '  ')),
          422,
          'INVALID_VALUE',
        ],
        [
          'a request too long',
          withParam(createBody(), 'request', (p) => (p.valueString = 'x'.repeat(8001))),
          422,
          'INVALID_VALUE',
        ],
        [
          'a request that is no string',
          withParam(createBody(), 'request', (p) => (p.valueString = 7)),
          422,
          'INVALID_VALUE',
        ],
        [
          'a shortlist that is no List',
          withParam(createBody(), 'shortlist', (p) => (p.resource = { resourceType: 'Bundle' })),
          422,
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'an empty shortlist',
          withParam(createBody(), 'shortlist', (p) => (p.resource.entry = [])),
          422,
          'MISSING_VALUE',
        ],
        [
          'a shortlist entry of null',
          withParam(createBody(), 'shortlist', (p) => (p.resource.entry = [null])),
          422,
          'INVALID_VALUE',
        ],
        [
          'criteria that are not an array',
          withParam(createBody(), 'shortlist', (p) => (p.resource.contained = {})),
          422,
          'INVALID_FHIR_STRUCTURE',
        ],
        [
          'an unknown priority',
          withParam(
            createBody(),
            'shortlist',
            (p) => (p.resource.contained[0].parameter[0].valueCoding.code = 'SOON'),
          ),
          422,
          'INVALID_CODE',
        ],
        [
          'no priority',
          withParam(createBody(), 'shortlist', (p) => (p.resource.contained[0].parameter = [])),
          422,
          'MISSING_VALUE',
        ],
        [
          'an attachment of the wrong type',
          withParam(
            createBody({ attachments: true }),
            'requestAttachmentFile',
            (p) => (p.resource.type.coding[0].code = 'PROVIDER'),
          ),
          422,
          'INVALID_CODE',
        ],
        [
          'an attachment without a Binary url',
          withParam(
            createBody({ attachments: true }),
            'requestAttachmentFile',
            (p) => (p.resource.content = [{ attachment: { url: 'http://x/y' } }]),
          ),
          422,
          'INVALID_VALUE',
        ],
        [
          'an attachment with no date',
          withParam(
            createBody({ attachments: true }),
            'requestAttachmentFile',
            (p) => (p.resource.indexed = 'soon'),
          ),
          422,
          'INVALID_VALUE',
        ],
      ];
      const failures: string[] = [];
      const check = (what: string, res: LightMyRequestResponse, status: number, code: string) => {
        const got =
          res.statusCode === status
            ? res.json()?.issue?.[0]?.details?.coding?.[0]?.code
            : undefined;
        if (res.statusCode !== status || got !== code)
          failures.push(`${what}: ${res.statusCode} ${res.body.slice(0, 200)}`);
      };
      for (const [what, body, status, code] of createCases)
        check(`create ${what}`, await create(body), status, code);

      const send = () => published('sendAdviceAndGuidanceResponse-ReturnToReferrerWithAdvice.json');
      const respondCases: [string, unknown, string][] = [
        ['no outcome', without(send(), 'guidanceOutcome'), 'MISSING_VALUE'],
        [
          'an unknown outcome',
          withParam(send(), 'guidanceOutcome', (p) => (p.valueCoding.code = 'LATER')),
          'INVALID_CODE',
        ],
        [
          'PROVIDER_CONVERTED',
          withParam(send(), 'guidanceOutcome', (p) => (p.valueCoding.code = 'PROVIDER_CONVERTED')),
          'INAPPROPRIATE_VALUE',
        ],
        [
          'no recommendation with advice',
          without(send(), 'guidanceIntendedRecommendation'),
          'VALUE_IS_REQUIRED',
        ],
        [
          'a recommendation with a request for information',
          withParam(
            send(),
            'guidanceOutcome',
            (p) => (p.valueCoding.code = 'REQUIRE_FURTHER_INFORMATION'),
          ),
          'FIELD_NOT_PERMITTED',
        ],
        [
          'an unknown recommendation',
          withParam(send(), 'guidanceIntendedRecommendation', (p) => (p.valueCoding.code = 'X')),
          'INVALID_CODE',
        ],
        ['no guidance', without(send(), 'guidance'), 'MISSING_VALUE'],
        ['no priority', without(send(), 'updatedPriority'), 'MISSING_VALUE'],
        [
          'a priority of another system',
          withParam(send(), 'updatedPriority', (p) => (p.valueCoding.system = 'urn:x')),
          'INVALID_CODE',
        ],
        [
          'an unknown parameter',
          { ...send(), parameter: [...send().parameter, { name: 'cc' }] },
          'UNEXPECTED_FIELD',
        ],
        ['a string', 'nonsense', 'INVALID_FHIR_STRUCTURE'],
      ];
      for (const [what, body, code] of respondCases) {
        const res =
          what === 'a string'
            ? await respond(ubrn, 1, { resourceType: 'Parameters', parameter: 'x' })
            : await respond(ubrn, 1, body);
        check(`respond ${what}`, res, 422, code);
      }

      const conv = () => convertBody(ubrn, 1);
      const convertCases: [string, unknown, string][] = [
        ['no createFrom', without(conv(), 'createFrom'), 'MISSING_VALUE'],
        [
          'a createFrom of a referral',
          withParam(
            conv(),
            'createFrom',
            (p) => (p.valueReference.reference = `ReferralRequest/${ubrn}`),
          ),
          'INVALID_VALUE',
        ],
        [
          'a createFrom with no version',
          withParam(conv(), 'createFrom', (p) => (p.valueReference = {})),
          'INVALID_VALUE',
        ],
        ['no review comments', without(conv(), 'reviewComments'), 'MISSING_VALUE'],
        ['no guidance', without(conv(), 'guidance'), 'MISSING_VALUE'],
        ['no priority', without(conv(), 'newReferralPriority'), 'MISSING_VALUE'],
        [
          'a review attachment of the wrong type',
          withParam(
            convertBody(ubrn, 1, 'convertAdviceAndGuidanceToReferral-WithAttachments.json'),
            'reviewAttachmentFile',
            (p) => (p.resource.type.coding[0].code = 'GUIDANCE_RESPONSE'),
          ),
          'INVALID_CODE',
        ],
      ];
      for (const [what, body, code] of convertCases)
        check(`convert ${what}`, await convert(body), 422, code);

      const list = () =>
        published('retrieveAdviceAndGuidanceWorklist-MinimalAdviceAndGuidanceRequests.json');
      const worklistCases: [string, unknown, string][] = [
        ['no listType', without(list(), 'listType'), 'MISSING_VALUE'],
        [
          'a referral list type',
          withParam(
            list(),
            'listType',
            (p) => (p.valueCodeableConcept.coding[0].code = 'REFERRALS_FOR_REVIEW'),
          ),
          'INVALID_CODE',
        ],
        [
          'an unsupported filter',
          {
            ...list(),
            parameter: [...list().parameter, { name: 'clinician', valueIdentifier: {} }],
          },
          'UNEXPECTED_FIELD',
        ],
        [
          'a malformed service',
          { ...list(), parameter: [...list().parameter, { name: 'service', valueIdentifier: 7 }] },
          'INVALID_VALUE',
        ],
        [
          'an unknown service',
          {
            ...list(),
            parameter: [
              ...list().parameter,
              {
                name: 'service',
                valueIdentifier: { system: 'http://fhir.nhs.net/Id/ers-service', value: '99999' },
              },
            ],
          },
          'REFERENCE_NOT_FOUND',
        ],
      ];
      for (const [what, body, code] of worklistCases)
        check(`worklist ${what}`, await worklist(body), 422, code);
      const otherService = {
        ...list(),
        parameter: [
          ...list().parameter,
          {
            name: 'service',
            valueIdentifier: { system: 'http://fhir.nhs.net/Id/ers-service', value: SERVICE },
          },
        ],
      };
      check(
        "worklist of another provider's service",
        await worklist(otherService, {
          as: 'other',
          businessFunction: 'SERVICE_PROVIDER_CLINICIAN',
        }),
        422,
        'NO_RELATIONSHIP',
      );

      for (const [what, url] of [
        ['no based-on', `${STU3}/Communication`],
        ['a malformed based-on', `${STU3}/Communication?based-on=CommunicationRequest/${ubrn}`],
        [
          'two based-on',
          `${STU3}/Communication?based-on=CommunicationRequest/${ubrn}/_history/1&based-on=x`,
        ],
        [
          'an unknown include',
          `${STU3}/Communication?based-on=CommunicationRequest/${ubrn}/_history/1&_include=Communication:x`,
        ],
      ])
        check(
          `conversation ${what}`,
          await ers({ url }),
          400,
          what === 'no based-on' ? 'MISSING_VALUE' : 'INVALID_VALUE',
        );
      assert.deepEqual(failures, []);
      // and nothing changed
      assert.equal((await ers({ url: `${CR}/${ubrn}` })).json().meta.versionId, '1');
    });
  });
}
