/**
 * What $ers.fetchworklist answers: an eRS-FetchWorklist-List-1 List, one entry per referral with
 * the list type's WorkListItem extension, as the published examples
 * (sandbox/src/mocks/stu3/retrieveWorklist/responses/) shape it. The Referrals for Review list
 * contains its patients (and refers to them by '#Patient-<nhs>'); the referrer's lists name the
 * patient by identifier. Fields OpenSpine does not hold (clinical context, referring clinician,
 * allocated clinician, letters) are left out rather than made up.
 */
import type { Extension } from './referral-model.js';
import {
  ERS_SERVICE_SYSTEM,
  NHS_NUMBER_SYSTEM_STU3,
  PATHWAY_START_URL,
  PRIORITY_URL,
  REFERRAL_STATE_SYSTEM,
  REFERRAL_STATE_URL,
  stateOf,
  type ReferralRequest,
} from './referral-model.js';
import { publishedState } from './referral-transitions.js';
import type { WorklistAnswer, WorklistEntry } from './worklist-service.js';

const SD = 'https://fhir.nhs.uk/STU3/StructureDefinition/';
const PATIENT_PROFILE = `${SD}eRS-Patient-1`;

/** The Status extension's published displays (Extension-WorklistItem-Status.yaml). */
const STATUS_DISPLAY: Record<string, string> = {
  REJECTED: 'Rejected',
  CANCELLED_REFERRAL: 'Cancelled referral',
  NOT_BOOKED: 'Not booked',
  BOOKED: 'Booked',
  AWAITING_TRIAGE: 'Awaiting triage',
  DEFERRED_TO_PROVIDER: 'Deferred to provider',
  TRIAGED_PROVIDER_TO_ACTION: 'Triaged - provider to action',
  TRIAGE_RESPONSE: 'Triage Response',
};

const part = (url: string, value: Record<string, unknown>): Extension => ({ url, ...value });

function extensionValue(referral: ReferralRequest, url: string): Extension | undefined {
  return referral.extension.find((e) => e.url === url);
}

function priority(referral: ReferralRequest): Extension[] {
  const concept = extensionValue(referral, PRIORITY_URL)?.valueCodeableConcept as
    { coding?: { system: string; code: string }[] } | undefined;
  const coding = concept?.coding?.[0];
  return coding
    ? [
        part('priority', {
          valueCodeableConcept: { coding: [{ system: coding.system, code: coding.code }] },
        }),
      ]
    : [];
}

function specialty(entry: WorklistEntry): Extension[] {
  const coding = entry.service?.specialty?.[0]?.coding?.[0];
  return coding?.code
    ? [
        part('specialty', {
          valueCodeableConcept: { coding: [{ system: coding.system, code: coding.code }] },
        }),
      ]
    : [];
}

function service(entry: WorklistEntry): Extension[] {
  if (!entry.serviceId) return [];
  return [
    part('service', {
      valueReference: {
        identifier: { system: ERS_SERVICE_SYSTEM, value: entry.serviceId },
        display: entry.service?.name ?? entry.serviceId,
      },
    }),
  ];
}

function appointmentStart(entry: WorklistEntry): Extension[] {
  const start = entry.appointment?.status === 'booked' ? entry.appointment.start : undefined;
  return start ? [part('appointmentStart', { valueDateTime: start })] : [];
}

const patientByIdentifier = (r: ReferralRequest): Extension =>
  part('patient', {
    valueReference: {
      identifier: { system: NHS_NUMBER_SYSTEM_STU3, value: r.subject.identifier.value },
    },
  });

/** The Referrals for Review / Appointment Slot Issues item of a provider's list. */
function providerItem(entry: WorklistEntry): Extension[] {
  const r = entry.stored.resource;
  const start = extensionValue(r, PATHWAY_START_URL)?.valueInstant;
  const state = stateOf(r);
  // Referrals for Review refers to its contained patients; Appointment Slot Issues names them
  const review = state !== 'DEFERRED_TO_PROVIDER';
  return [
    ...priority(r),
    ...specialty(entry),
    review
      ? part('patient', { valueReference: { reference: `#Patient-${r.subject.identifier.value}` } })
      : patientByIdentifier(r),
    ...(typeof start === 'string' ? [part('eReferralPathwayStart', { valueDateTime: start })] : []),
    part('clinicalInfoPrinted', { valueBoolean: false }),
    ...(review
      ? [
          part('requestContextStatus', {
            valueCodeableConcept: {
              coding: [
                {
                  system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-RequestContextStatus-1',
                  code: 'NEVER_REVIEWED',
                  display: 'Never Reviewed',
                },
              ],
            },
          }),
          ...appointmentStart(entry),
          part('referralType', {
            valueCodeableConcept: {
              coding: [
                {
                  system: 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ReferralType-1',
                  code: state === 'AWAITING_TRIAGE' ? 'TRIAGE_DEFERRAL' : 'APPOINTMENT',
                },
              ],
            },
          }),
        ]
      : []),
    ...(review ? [] : deferralReason(entry)),
    ...service(entry),
    ...(review ? [part('referralRequestVersion', { valueInteger: entry.stored.version })] : []),
  ];
}

/** Why a referral was deferred to the provider (its appointment's eRS-ReviewReason). */
function deferralReason(entry: WorklistEntry): Extension[] {
  const coding = entry.appointment?.reason?.[0]?.coding?.[0];
  return coding
    ? [
        part('reason', {
          valueCodeableConcept: { coding: [{ system: coding.system, code: coding.code }] },
        }),
      ]
    : [];
}

/** The state's reason coding (rejection reason, triage outcome), when it carries one. */
function stateReason(referral: ReferralRequest): Extension[] {
  const ext = extensionValue(referral, REFERRAL_STATE_URL);
  const reason = ext?.extension?.find((e) => e.url === 'reason')?.valueCoding;
  return reason ? [part('reason', { valueCodeableConcept: { coding: [reason] } })] : [];
}

/** The Rejected / Triage Response and Awaiting Booking items of a referrer's list. */
function referrerItem(entry: WorklistEntry): Extension[] {
  const r = entry.stored.resource;
  const state = publishedState(stateOf(r));
  return [
    patientByIdentifier(r),
    ...priority(r),
    part('referralLastUpdated', { valueDateTime: entry.stored.lastUpdated }),
    part('status', {
      valueCodeableConcept: {
        coding: [
          { system: REFERRAL_STATE_SYSTEM, code: state, display: STATUS_DISPLAY[state] ?? state },
        ],
      },
    }),
    ...(state === 'REJECTED' || state === 'TRIAGE_RESPONSE' ? stateReason(r) : []),
  ];
}

/** The eRS-FetchWorklist-List-1 answer. */
export function worklistView(answer: WorklistAnswer) {
  const provider = answer.worklist.side === 'provider';
  const forReview = answer.listType === 'REFERRALS_FOR_REVIEW';
  const patients = [
    ...new Set(answer.entries.map((e) => e.stored.resource.subject.identifier.value)),
  ];
  return {
    meta: { profile: [`${SD}eRS-FetchWorklist-List-1`] },
    resourceType: 'List',
    ...(forReview && patients.length
      ? {
          contained: patients.map((nhs) => ({
            id: `Patient-${nhs}`,
            meta: { profile: [PATIENT_PROFILE] },
            resourceType: 'Patient',
            identifier: [{ system: NHS_NUMBER_SYSTEM_STU3, value: nhs }],
          })),
        }
      : {}),
    status: 'current',
    mode: 'snapshot',
    entry: answer.entries.map((entry) => ({
      extension: [
        {
          extension: provider ? providerItem(entry) : referrerItem(entry),
          url: `${SD}Extension-eRS-${answer.worklist.item}-WorkListItem-1`,
        },
      ],
      item: { reference: `ReferralRequest/${entry.stored.id}` },
    })),
  };
}
