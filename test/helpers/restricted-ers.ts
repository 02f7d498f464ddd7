/**
 * For test/restricted-location.test.ts: drives a restricted patient through the e-Referral Service
 * far enough that every e-RS answer that can carry patient data exists for them, and reads each:
 * a referral (a011) to a directly bookable service with published slots, booked (a016) and read
 * (a005, a038), its available actions (a029), the provider's worklist (a008), the clinical
 * information PDF (a007) and the patient letter PDF (a019), the patient's own routes (with their
 * own token), an advice and guidance request (a044) read as request, conversation, worklist and
 * overview PDF (a024, a025, a023, a043), and a service search (a010). PDF answers are recorded as
 * their drawn text. Each answer goes to `record` under its route-table key.
 */
import assert from 'node:assert/strict';
import type { LightMyRequestResponse } from 'fastify';
import {
  buildHealthcareService,
  indexHealthcareService,
  type ErsProfile,
} from '../../src/services/directory/index.js';
import { appointmentBody, createBody, published, slotRun } from './ers-booking.js';
import { pdfText } from './ers-letters.js';
import type { TestPlatform } from './platform.js';

const ERS = '/referrals';
const STU3 = `${ERS}/FHIR/STU3`;
/** The provider trust, the bookable service (in Leeds, for distances) and the A&G service. */
export const ERS_PROVIDER = 'RXH01';
export const BOOKABLE = '11002';
export const ADVICE = '11014';
const PROVIDER_POSTCODE = 'LS1 3EX';

const cardiology = (extra: Partial<ErsProfile>): ErsProfile => ({
  specialty: 'CARDIOLOGY',
  clinicTypes: ['HEART_FAILURE'],
  flow: 'BOOKABLE',
  bookable: 'DIRECTLY_BOOKABLE',
  priorities: ['ROUTINE', 'URGENT'],
  adviceAndGuidance: false,
  ...extra,
});

export interface Recorder {
  (route: string, url: string, res: { statusCode: number; body: string }): void;
}

export interface ErsReadsFor {
  /** The restricted patient's booked referral. */
  ubrn: string;
  /** The a010 answers for the restricted patient and for the neighbour. */
  searchRestricted: any;
  searchNeighbour: any;
  /** The neighbour's answers from the same practice (the control): a007 as text, a025 as JSON. */
  neighbourSummary: string;
  neighbourConversation: string;
}

/** The service search body (a010, the published RC minimal request) for `nhs`, nearest first. */
function searchBody(nhs: string) {
  const body = published('patientServiceSearch-RcMinimal.json');
  body.parameter.find((p: any) => p.name === 'patient').valueIdentifier.value = nhs;
  const criteria = body.parameter.find((p: any) => p.name === 'searchCriteria').resource;
  criteria.parameter.find((p: any) => p.name === 'clinicType').valueCoding.code = 'HEART_FAILURE';
  return body;
}

export async function readErsFor(
  platform: TestPlatform,
  who: { nhs: string; neighbour: string; referrerOrg: string; referrer: string; patient: string },
  record: Recorder,
): Promise<ErsReadsFor> {
  await platform.repo.commit({
    resources: [
      [BOOKABLE, 'Leeds Cardiology', cardiology({})],
      [
        ADVICE,
        'Leeds Cardiology Advice',
        cardiology({ flow: 'TRIAGE', bookable: undefined, adviceAndGuidance: true }),
      ],
    ].map(([id, name, ers]) => {
      const resource = buildHealthcareService({
        id: id as string,
        org: ERS_PROVIDER,
        name: name as string,
        types: ['outpatients'],
        active: true,
        endpoints: [],
        address: { lines: ['Great George Street'], town: 'Leeds', postcode: PROVIDER_POSTCODE },
        ers: ers as ErsProfile,
      });
      return {
        type: 'HealthcareService',
        id: id as string,
        expectedVersion: 0,
        resource,
        index: indexHealthcareService(resource),
      };
    }),
  });
  const provider = await platform.token('R8000', { user: 'consultant-1', org: ERS_PROVIDER });
  const asReferrer = {
    'nhsd-ers-business-function': 'REFERRING_CLINICIAN',
    'nhsd-end-user-organisation-ods': who.referrerOrg,
  };
  const asProvider = {
    'nhsd-ers-business-function': 'SERVICE_PROVIDER_CLINICIAN',
    'nhsd-end-user-organisation-ods': ERS_PROVIDER,
  };
  const call = (
    url: string,
    opts: { method?: string; body?: unknown; token?: string; headers?: Record<string, string> },
  ): Promise<LightMyRequestResponse> =>
    platform.request({
      method: opts.method ?? 'GET',
      url,
      body: opts.body,
      token: opts.token ?? who.referrer,
      headers: opts.headers ?? asReferrer,
    });
  /** Reads a route and records its answer (a PDF as the text drawn on it). */
  const read = async (
    route: string,
    url: string,
    opts: Parameters<typeof call>[1] = {},
  ): Promise<LightMyRequestResponse> => {
    const res = await call(url, opts);
    const pdf = String(res.headers['content-type'] ?? '').includes('application/pdf');
    record(route, url, {
      statusCode: res.statusCode,
      body: pdf ? pdfText(res.rawPayload) : res.body,
    });
    return res;
  };
  const ok = (res: LightMyRequestResponse, status = 200) => {
    assert.equal(res.statusCode, status, res.body.slice(0, 400));
    return res.json();
  };

  // the provider publishes slots; the practice refers the patient and books one
  ok(
    await call(`${ERS}/manage/Slot/$publish`, {
      method: 'POST',
      body: slotRun(BOOKABLE),
      token: provider,
      headers: {},
    }),
    201,
  );
  const created = ok(
    await call(`${STU3}/ReferralRequest/$ers.createReferral`, {
      method: 'POST',
      body: createBody([BOOKABLE], who.nhs),
    }),
    201,
  );
  const ubrn: string = created.id;
  const slots = ok(
    await call(
      `${STU3}/Slot?schedule.actor:HealthcareService=${BOOKABLE}&appointmentType=URGENT&status=free&_count=5&page=1`,
      { headers: { ...asReferrer, 'nhsd-ers-comm-rule-org': ERS_PROVIDER } },
    ),
  );
  const slot = slots.entry.find((e: any) => e.resource.resourceType === 'Slot').resource.id;
  const appointment = ok(
    await call(`${STU3}/Appointment`, {
      method: 'POST',
      body: appointmentBody('MinimalBooking', ubrn, 1, { slot, service: BOOKABLE, nhs: who.nhs }),
    }),
    201,
  );

  await read(`GET ${STU3}/ReferralRequest/:ubrn`, `${STU3}/ReferralRequest/${ubrn}`);
  await read(
    `GET ${STU3}/ReferralRequest/:ubrn/_history/:version`,
    `${STU3}/ReferralRequest/${ubrn}/_history/1`,
  );
  await read(`GET ${STU3}/Appointment/:id`, `${STU3}/Appointment/${appointment.id}`);
  await read(
    `GET ${STU3}/Appointment/:id/_history/:version`,
    `${STU3}/Appointment/${appointment.id}/_history/1`,
  );
  await read(
    `GET ${STU3}/Task`,
    `${STU3}/Task?focus=ReferralRequest/${ubrn}/_history/2&intent=proposal&status=ready`,
    { token: provider, headers: asProvider },
  );
  const worklist = published('retrieveWorklist-MinimalReferralsForReview.json');
  await read(
    `POST ${STU3}/ReferralRequest/$ers.fetchworklist`,
    `${STU3}/ReferralRequest/$ers.fetchworklist`,
    { method: 'POST', body: worklist, token: provider, headers: asProvider },
  );
  await read(
    `POST ${STU3}/ReferralRequest/:ubrn/$ers.generateCRI`,
    `${STU3}/ReferralRequest/${ubrn}/$ers.generateCRI`,
    { method: 'POST', token: provider, headers: asProvider },
  );
  await read(
    `POST ${STU3}/ReferralRequest/:ubrn/$ers.generatePatientLetter`,
    `${STU3}/ReferralRequest/${ubrn}/$ers.generatePatientLetter`,
    { method: 'POST' },
  );

  // the patient's own routes, with their own token
  const own = { token: who.patient, headers: {} };
  await read(`GET ${ERS}/patient/ReferralRequest`, `${ERS}/patient/ReferralRequest`, own);
  await read(
    `GET ${ERS}/patient/ReferralRequest/:ubrn`,
    `${ERS}/patient/ReferralRequest/${ubrn}`,
    own,
  );
  await read(
    `GET ${ERS}/patient/ReferralRequest/:ubrn/Slot`,
    `${ERS}/patient/ReferralRequest/${ubrn}/Slot?service=${BOOKABLE}&_count=5`,
    own,
  );
  await read(
    `GET ${ERS}/patient/ReferralRequest/:ubrn/Appointment`,
    `${ERS}/patient/ReferralRequest/${ubrn}/Appointment`,
    own,
  );

  // advice and guidance: asked by the practice, read by both parties
  const adviceBody = published('createAdviceAndGuidance-ExampleRCWithoutAttachments.json');
  adviceBody.parameter.find((p: any) => p.name === 'patient').valueIdentifier.value = who.nhs;
  const advice = ok(
    await call(`${STU3}/CommunicationRequest/$ers.createAdviceAndGuidance`, {
      method: 'POST',
      body: adviceBody,
    }),
  );
  const adviceUbrn: string = advice.parameter[0].resource.id; // a Parameters holding the request
  await read(
    `GET ${STU3}/CommunicationRequest/:ubrn`,
    `${STU3}/CommunicationRequest/${adviceUbrn}`,
  );
  await read(
    `GET ${STU3}/CommunicationRequest/:ubrn/_history/:version`,
    `${STU3}/CommunicationRequest/${adviceUbrn}/_history/1`,
  );
  await read(
    `GET ${STU3}/Communication`,
    `${STU3}/Communication?based-on=CommunicationRequest/${adviceUbrn}/_history/1`,
    { token: provider, headers: asProvider },
  );
  await read(
    `POST ${STU3}/CommunicationRequest/$ers.fetchworklist`,
    `${STU3}/CommunicationRequest/$ers.fetchworklist`,
    {
      method: 'POST',
      body: published('retrieveAdviceAndGuidanceWorklist-MinimalAdviceAndGuidanceRequests.json'),
      token: provider,
      headers: asProvider,
    },
  );
  await read(
    `POST ${STU3}/CommunicationRequest/:ubrn/$ers.generateCRI`,
    `${STU3}/CommunicationRequest/${adviceUbrn}/$ers.generateCRI`,
    { method: 'POST' },
  );

  // a service search for them, and the same for the unrestricted neighbour (the control)
  const search = `${STU3}/HealthcareService/$ers.searchHealthcareServicesForPatient`;
  const searchRestricted = ok(
    await read(`POST ${search}`, search, { method: 'POST', body: searchBody(who.nhs) }),
  );
  const searchNeighbour = ok(
    await call(search, { method: 'POST', body: searchBody(who.neighbour) }),
  );

  // the neighbour, referred and asking advice from the same practice: their answers keep it
  const theirs = ok(
    await call(`${STU3}/ReferralRequest/$ers.createReferral`, {
      method: 'POST',
      body: createBody([BOOKABLE], who.neighbour),
    }),
    201,
  );
  const summary = await call(`${STU3}/ReferralRequest/${theirs.id}/$ers.generateCRI`, {
    method: 'POST',
  });
  assert.equal(summary.statusCode, 200, summary.body.slice(0, 400));
  adviceBody.parameter.find((p: any) => p.name === 'patient').valueIdentifier.value = who.neighbour;
  const theirAdvice = ok(
    await call(`${STU3}/CommunicationRequest/$ers.createAdviceAndGuidance`, {
      method: 'POST',
      body: adviceBody,
    }),
  ).parameter[0].resource.id;
  const conversation = await call(
    `${STU3}/Communication?based-on=CommunicationRequest/${theirAdvice}/_history/1`,
    { token: provider, headers: asProvider },
  );
  assert.equal(conversation.statusCode, 200, conversation.body.slice(0, 400));
  return {
    ubrn,
    searchRestricted,
    searchNeighbour,
    neighbourSummary: pdfText(summary.rawPayload),
    neighbourConversation: conversation.body,
  };
}
