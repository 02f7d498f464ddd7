/**
 * Advice and guidance (A&G) records as e-RS publishes them (NHSDigital/e-referrals-service-api
 * specification/components/stu3/schemas/eRS-CommunicationRequest.yaml and eRS-Communication.yaml):
 * the request is an eRS-CommunicationRequest-1 stored under its UBRN with versions (e-RS gives an
 * A&G request a UBRN, and a converted request keeps it as the referral's), and each message of the
 * conversation an eRS-Communication-1 stored under `<ubrn>-<n>`, n counting from 1 in the order
 * sent, so the conversation is read by id (no scan) and in order.
 */
import { resourceType, type IndexEntry } from '../../store/resource-store.js';
import { ADVICE_STATES, type AdviceState } from './advice-transitions.js';
import {
  ERS_EXTENSION,
  ODS_SYSTEM_STU3,
  PROVIDER_ORG_URL,
  REFERRER_ORG_URL,
  type Extension,
} from './referral-model.js';

export const ADVICE_PROFILE = `${ERS_EXTENSION}eRS-CommunicationRequest-1`;
export const MESSAGE_PROFILE = `${ERS_EXTENSION}eRS-Communication-1`;
export const PRACTITIONER_ROLE_PROFILE =
  'https://fhir.hl7.org.uk/STU3/StructureDefinition/CareConnect-PractitionerRole-1';
export const DOCUMENT_REFERENCE_PROFILE = `${ERS_EXTENSION}eRS-DocumentReference-1`;
export const ADVICE_STATUS_SYSTEM =
  'https://fhir.nhs.uk/STU3/CodeSystem/eRS-AdviceAndGuidanceStatus-1';
export const SENT_BY_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-CommunicationSentBy-1';
export const CONVERSION_SYSTEM =
  'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ProviderConversionAuthorisation-1';
export const CONVERSION_URL = `${ERS_EXTENSION}Extension-eRS-ProviderConversionAuthorisation-1`;
export const SPECIALTY_URL = `${ERS_EXTENSION}Extension-eRS-Specialty-1`;
export const SERVICE_REFERENCE_URL = `${ERS_EXTENSION}Extension-HealthcareService-Reference-1`;
export const ROLE_REFERENCE_URL = `${ERS_EXTENSION}Extension-PractitionerRole-Reference-1`;
export const MESSAGE_REQUESTER_URL = `${ERS_EXTENSION}Extension-Communication-Requester-1`;
export const BUSINESS_FUNCTION_SYSTEM =
  'https://fhir.nhs.uk/STU3/CodeSystem/eRS-BusinessFunction-1';
export const SDS_USER_SYSTEM = 'http://fhir.nhs.net/Id/sds-user-id';
export const REQUEST_ID_SYSTEM = 'https://fhir.nhs.uk/Id/ers-request-id';
export const ATTACHMENT_TYPE_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-AttachmentType-1';

/** OpenSpine's own facts on a stored request (the views remove every openspine.dev extension). */
const OWN = 'https://openspine.dev/STU3/Extension-eRS-Advice';
/** How many messages the conversation holds (the last one is `<ubrn>-<count>`). */
export const MESSAGE_COUNT_URL = `${OWN}-MessageCount`;
/** When the request was first made (the worklist's adviceFirstRequested). */
export const FIRST_REQUESTED_URL = `${OWN}-FirstRequested`;
/** The referral a converted request became (same UBRN: the link is kept explicit all the same). */
export const CONVERTED_TO_URL = `${OWN}-ConvertedTo`;
/** On a provider's message: the guidance outcome and intended recommendation it was sent with. */
export const GUIDANCE_OUTCOME_URL = `${OWN}-GuidanceOutcome`;
export const OWN_EXTENSION_PREFIX = 'https://openspine.dev/';

export type AdviceConversion = 'AUTHORISED_TO_CONVERT' | 'NOT_AUTHORISED_TO_CONVERT';

/** The STU3 CommunicationRequest as stored (fields this service writes; others pass through). */
export interface AdviceRequest {
  resourceType: 'CommunicationRequest';
  id: string;
  meta?: { versionId?: string; lastUpdated?: string; profile?: string[] };
  extension: Extension[];
  contained: Record<string, any>[];
  status: 'active' | 'cancelled' | 'completed';
  category: { coding: { system: string; code: string }[] }[];
  subject: { identifier: { system: string; value: string } };
  recipient: Record<string, unknown>[];
  sender: Record<string, unknown>;
  requester: Record<string, unknown>;
  identifier: { system: string; value: string }[];
  [field: string]: unknown;
}

/** The STU3 Communication (one message of the conversation) as stored. */
export interface AdviceMessage {
  resourceType: 'Communication';
  id: string;
  meta?: { versionId?: string; lastUpdated?: string; profile?: string[] };
  contained?: Record<string, any>[];
  extension?: Extension[];
  basedOn: { reference: string }[];
  status: 'completed';
  category: { coding: { system: string; code: 'REQUESTER' | 'RESPONDER' }[] }[];
  recipient: Record<string, unknown>[];
  sent: string;
  sender: Record<string, unknown>;
  payload?: { contentReference: { reference: string } }[];
  note: { text: string }[];
  [field: string]: unknown;
}

export const ADVICE_REQUEST = resourceType<AdviceRequest>('CommunicationRequest');
export const ADVICE_MESSAGE = resourceType<AdviceMessage>('Communication');

/** The id of the n-th message (from 1) of the conversation of `ubrn`. */
export const messageId = (ubrn: string, n: number): string => `${ubrn}-${n}`;

const own = (request: AdviceRequest, url: string) => request.extension.find((e) => e.url === url);

export function adviceStateOf(request: AdviceRequest): AdviceState {
  const code = request.category[0]?.coding[0]?.code as AdviceState | undefined;
  return code && ADVICE_STATES.includes(code) ? code : 'PROVIDER_RESPONSE_REQUIRED';
}

export const adviceReferrerOf = (r: AdviceRequest): string =>
  (own(r, REFERRER_ORG_URL)?.valueIdentifier as { value?: string } | undefined)?.value ?? '';
export const adviceProviderOf = (r: AdviceRequest): string =>
  (own(r, PROVIDER_ORG_URL)?.valueIdentifier as { value?: string } | undefined)?.value ?? '';
export const messageCountOf = (r: AdviceRequest): number =>
  (own(r, MESSAGE_COUNT_URL)?.valueInteger as number | undefined) ?? 0;
export const firstRequestedOf = (r: AdviceRequest): string | undefined =>
  own(r, FIRST_REQUESTED_URL)?.valueDateTime as string | undefined;
export const advicePatientOf = (r: AdviceRequest): string => r.subject.identifier.value;

export function conversionOf(r: AdviceRequest): AdviceConversion {
  const coding = own(r, CONVERSION_URL)?.valueCoding as { code?: string } | undefined;
  return coding?.code === 'AUTHORISED_TO_CONVERT'
    ? 'AUTHORISED_TO_CONVERT'
    : 'NOT_AUTHORISED_TO_CONVERT';
}

/** The e-RS service (directory HealthcareService id) the request was sent to. */
export function adviceServiceOf(r: AdviceRequest): string {
  const ext = (r.recipient[0]?.extension as Extension[] | undefined)?.[0];
  return (
    (ext?.valueReference as { identifier?: { value?: string } } | undefined)?.identifier?.value ??
    ''
  );
}

/** The priority code the request carries now. */
export function advicePriorityOf(r: AdviceRequest): string {
  const concept = r.extension.find((e) => e.url.endsWith('Extension-eRS-ReferralPriority-1'))
    ?.valueCodeableConcept as { coding?: { code?: string }[] } | undefined;
  return concept?.coding?.[0]?.code ?? 'ROUTINE';
}

/** The request with its own extension at `url` set to `value` (replacing any earlier one). */
export function withOwn(
  r: AdviceRequest,
  url: string,
  value: Record<string, unknown>,
): AdviceRequest {
  return { ...r, extension: [...r.extension.filter((e) => e.url !== url), { url, ...value }] };
}

/** Index rows: who may list it (provider, referrer), its patient, state and service. */
export function adviceIndex(r: AdviceRequest): IndexEntry[] {
  const specialty = (own(r, SPECIALTY_URL)?.valueCoding as { code?: string } | undefined)?.code;
  return [
    { param: 'patient', value: advicePatientOf(r) },
    { param: 'referrer', value: adviceReferrerOf(r) },
    { param: 'provider', value: adviceProviderOf(r) },
    { param: 'state', value: adviceStateOf(r) },
    { param: 'service', value: adviceServiceOf(r) },
    ...(specialty ? [{ param: 'specialty', value: specialty }] : []),
  ];
}

/** The organisation extensions OpenSpine keeps on a request (for access and worklists). */
export const orgExtension = (url: string, ods: string): Extension => ({
  url,
  valueIdentifier: { system: ODS_SYSTEM_STU3, value: ods },
});

/** A user acting in a business function at an organisation, as e-RS contains it. */
export interface Actor {
  userId: string;
  ods: string;
  businessFunction: string;
}

/** The contained id e-RS gives a PractitionerRole: PractitionerRole.<user>.<ods>.<FUNCTION-WITH-DASHES>. */
export const roleId = (a: Actor): string =>
  `PractitionerRole.${a.userId}.${a.ods}.${a.businessFunction.replace(/_/g, '-')}`.replace(
    /[^A-Za-z0-9.-]/g,
    '-',
  );

export function practitionerRole(a: Actor): Record<string, unknown> {
  return {
    id: roleId(a),
    meta: { profile: [PRACTITIONER_ROLE_PROFILE] },
    resourceType: 'PractitionerRole',
    practitioner: { identifier: { system: SDS_USER_SYSTEM, value: a.userId } },
    organization: { identifier: { system: ODS_SYSTEM_STU3, value: a.ods } },
    code: [{ coding: [{ system: BUSINESS_FUNCTION_SYSTEM, code: a.businessFunction }] }],
  };
}

/** A reference to a contained PractitionerRole, as the sender and requester extensions carry it. */
export const roleReference = (a: Actor) => ({
  extension: [{ url: ROLE_REFERENCE_URL, valueReference: { reference: `#${roleId(a)}` } }],
});

/** eRS-Priority-1 displays, as the published answers show them. */
export const PRIORITY_DISPLAY: Record<string, string> = {
  ROUTINE: 'Routine',
  URGENT: 'Urgent',
  TWO_WEEK_WAIT: '2 Week Wait',
};
