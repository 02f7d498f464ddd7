/**
 * Building advice and guidance records as e-RS publishes them: a new request (a044's
 * createdCommunicationRequest), a message of the conversation (createdCommunication, sent by the
 * REQUESTER or the RESPONDER), the attachments a message names (contained eRS-DocumentReference-1,
 * by their Binary reference) and the request's next version after a change of state.
 */
import { randomUUID } from 'node:crypto';
import type { ResourceWrite } from '../../store/resource-store.js';
import {
  ADVICE_MESSAGE,
  ADVICE_PROFILE,
  ADVICE_REQUEST,
  adviceIndex,
  ADVICE_STATUS_SYSTEM,
  adviceServiceOf,
  CONVERSION_SYSTEM,
  CONVERSION_URL,
  DOCUMENT_REFERENCE_PROFILE,
  ATTACHMENT_TYPE_SYSTEM,
  FIRST_REQUESTED_URL,
  GUIDANCE_OUTCOME_URL,
  MESSAGE_COUNT_URL,
  MESSAGE_PROFILE,
  MESSAGE_REQUESTER_URL,
  messageId,
  orgExtension,
  practitionerRole,
  PRIORITY_DISPLAY,
  REQUEST_ID_SYSTEM,
  roleId,
  roleReference,
  SDS_USER_SYSTEM,
  SENT_BY_SYSTEM,
  SERVICE_REFERENCE_URL,
  SPECIALTY_URL,
  withOwn,
  type Actor,
  type AdviceMessage,
  type AdviceRequest,
} from './advice-model.js';
import type { ResolvedAttachment } from './advice-attachments.js';
import type { CreateAdviceRequest } from './advice-rules.js';
import { ADVICE_INITIAL_STATE, adviceStatus, type AdviceState } from './advice-transitions.js';
import {
  ERS_EXTENSION,
  ERS_SERVICE_SYSTEM,
  NHS_NUMBER_SYSTEM_STU3,
  ODS_SYSTEM_STU3,
  PRIORITY_SYSTEM,
  PRIORITY_URL,
  PROVIDER_ORG_URL,
  REFERRER_ORG_URL,
  SHORTLIST_URL,
} from './referral-model.js';

const CONVERSION_DISPLAY = {
  AUTHORISED_TO_CONVERT:
    'Referrer has allowed the Service Provider to convert the Advice and Guidance to a Referral',
  NOT_AUTHORISED_TO_CONVERT:
    'Referrer has NOT allowed the Service Provider to convert the Advice and Guidance to a Referral',
};

export const priorityExtension = (code: string) => ({
  url: PRIORITY_URL,
  valueCodeableConcept: {
    coding: [{ system: PRIORITY_SYSTEM, code, display: PRIORITY_DISPLAY[code] ?? code }],
  },
});

const serviceRecipient = (serviceId: string) => ({
  extension: [
    {
      url: SERVICE_REFERENCE_URL,
      valueReference: { identifier: { system: ERS_SERVICE_SYSTEM, value: serviceId } },
    },
  ],
});

export interface NewAdvice {
  ubrn: string;
  request: CreateAdviceRequest;
  /** Who sends it, and the clinician it is made for (the same user unless an admin acts for one). */
  sender: Actor;
  requester: Actor;
  provider: string;
  serviceName: string;
  specialty: { system: string; code: string };
  priority: string;
  time: string;
}

/** A new request in the initial state, holding its first message (a044). */
export function newAdviceRequest(a: NewAdvice): AdviceRequest {
  const { request } = a;
  const criteria = (request.shortlist.contained ?? []).find(
    (c: any) => c?.resourceType === 'Parameters',
  );
  const { contained: _given, extension: _ext, ...list } = request.shortlist;
  const entry = list.entry[0];
  const roles = [a.sender, ...(roleId(a.requester) === roleId(a.sender) ? [] : [a.requester])];
  return {
    resourceType: 'CommunicationRequest',
    id: a.ubrn,
    meta: { profile: [ADVICE_PROFILE] },
    extension: [
      priorityExtension(a.priority),
      {
        url: CONVERSION_URL,
        valueCoding: {
          system: CONVERSION_SYSTEM,
          code: request.conversion,
          display: CONVERSION_DISPLAY[request.conversion],
        },
      },
      { url: SHORTLIST_URL, valueReference: { reference: '#shortlist' } },
      { url: SPECIALTY_URL, valueCoding: a.specialty },
      orgExtension(REFERRER_ORG_URL, a.sender.ods),
      orgExtension(PROVIDER_ORG_URL, a.provider),
      { url: FIRST_REQUESTED_URL, valueDateTime: a.time },
      { url: MESSAGE_COUNT_URL, valueInteger: 1 },
    ],
    contained: [
      ...(criteria ? [{ ...criteria, id: 'serviceSearchCriteria' }] : []),
      {
        ...list,
        id: 'shortlist',
        ...(criteria
          ? {
              extension: [
                {
                  url: `${ERS_EXTENSION}Extension-eRS-Shortlist-SearchCriteria-1`,
                  valueReference: { reference: '#serviceSearchCriteria' },
                },
              ],
            }
          : {}),
        entry: [{ ...entry, item: { ...entry.item, display: a.serviceName } }],
      },
      ...roles.map(practitionerRole),
    ],
    status: adviceStatus(ADVICE_INITIAL_STATE),
    category: [{ coding: [{ system: ADVICE_STATUS_SYSTEM, code: ADVICE_INITIAL_STATE }] }],
    subject: { identifier: { system: NHS_NUMBER_SYSTEM_STU3, value: request.nhsNumber } },
    recipient: [serviceRecipient(request.serviceId)],
    sender: roleReference(a.sender),
    requester: { agent: roleReference(a.requester) },
    identifier: [{ system: REQUEST_ID_SYSTEM, value: `a.${randomUUID()}` }],
  };
}

/** The request's next version: in `state`, its conversation one message longer. */
export function nextAdviceRequest(
  r: AdviceRequest,
  state: AdviceState,
  messages: number,
  priority?: string,
): AdviceRequest {
  const next = withOwn(r, MESSAGE_COUNT_URL, { valueInteger: messages });
  return {
    ...next,
    extension: priority
      ? next.extension.map((e) => (e.url === PRIORITY_URL ? priorityExtension(priority) : e))
      : next.extension,
    status: adviceStatus(state),
    category: [{ coding: [{ system: ADVICE_STATUS_SYSTEM, code: state }] }],
  };
}

export interface NewMessage {
  ubrn: string;
  /** Its number in the conversation (from 1) and the request version it is based on. */
  n: number;
  version: number;
  sentBy: 'REQUESTER' | 'RESPONDER';
  sender: Actor;
  requester: Actor;
  /** The referrer's ODS code (a RESPONDER message goes to it) or the service (a REQUESTER one). */
  to: { ods: string } | { service: string };
  text: string;
  attachments: ResolvedAttachment[];
  time: string;
  /** OpenSpine's record of a provider's outcome and recommendation (not published). */
  outcome?: Record<string, string>;
}

/** A message of the conversation, with its attachments and PractitionerRoles contained. */
export function newMessage(m: NewMessage): AdviceMessage {
  const documents = m.attachments.map((a, i) =>
    documentReference(`${m.ubrn}-${m.n}-${i + 1}`, a, m.sender),
  );
  const roles = [m.sender, ...(roleId(m.requester) === roleId(m.sender) ? [] : [m.requester])];
  return {
    resourceType: 'Communication',
    id: messageId(m.ubrn, m.n),
    meta: { profile: [MESSAGE_PROFILE] },
    contained: [...documents, ...roles.map(practitionerRole)],
    extension: [
      { url: MESSAGE_REQUESTER_URL, valueReference: { reference: `#${roleId(m.requester)}` } },
      ...(m.outcome ? [{ url: GUIDANCE_OUTCOME_URL, extension: outcomeParts(m.outcome) }] : []),
    ],
    basedOn: [{ reference: `CommunicationRequest/${m.ubrn}/_history/${m.version}` }],
    status: 'completed',
    category: [{ coding: [{ system: SENT_BY_SYSTEM, code: m.sentBy }] }],
    recipient: [
      'ods' in m.to
        ? { identifier: { system: ODS_SYSTEM_STU3, value: m.to.ods } }
        : serviceRecipient(m.to.service),
    ],
    sent: m.time,
    sender: roleReference(m.sender),
    ...(documents.length
      ? { payload: documents.map((d) => ({ contentReference: { reference: `#${d.id}` } })) }
      : {}),
    note: [{ text: m.text }],
  };
}

const outcomeParts = (o: Record<string, string>) =>
  Object.entries(o).map(([url, valueCode]) => ({ url, valueCode }));

/** An attachment named by reference (uploaded by a020), as e-RS contains it: eRS-DocumentReference-1. */
const ERS_CODE_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/';

export function documentReference(id: string, a: ResolvedAttachment, by: Actor) {
  return {
    id: `DocumentReference-${id}`,
    meta: { profile: [DOCUMENT_REFERENCE_PROFILE] },
    resourceType: 'DocumentReference',
    type: { coding: [{ system: ATTACHMENT_TYPE_SYSTEM, code: a.type }] },
    status: 'current',
    indexed: a.indexed,
    ...(a.description ? { description: a.description } : {}),
    content: [
      {
        attachment: {
          extension: [
            {
              url: `${ERS_EXTENSION}Extension-eRS-AvailabilityStatus-1`,
              // a020 keeps only files it has validated, so a stored file is available
              valueCoding: {
                system: `${ERS_CODE_SYSTEM}eRS-AvailabilityStatus-1`,
                code: 'AVAILABLE',
              },
            },
            {
              url: `${ERS_EXTENSION}Extension-eRS-AttachedBy-1`,
              valueReference: {
                identifier: { system: SDS_USER_SYSTEM, value: a.file.by || by.userId },
              },
            },
            {
              url: `${ERS_EXTENSION}Extension-eRS-AttachedByOrganisation-1`,
              valueReference: { identifier: { system: ODS_SYSTEM_STU3, value: by.ods } },
            },
          ],
          contentType: a.file.contentType,
          url: a.url,
          size: a.file.size,
          title: a.file.title,
          creation: a.file.creation,
        },
      },
    ],
  };
}

/** The recipient of a referrer's message: the service the request was sent to. */
export const requestRecipient = (r: AdviceRequest) => ({ service: adviceServiceOf(r) });

/** The request's version after a change (written at `expectedVersion`) and the message it adds. */
export function adviceWrites(
  request: AdviceRequest,
  expectedVersion: number,
  message: AdviceMessage,
): ResourceWrite[] {
  return [
    {
      type: ADVICE_REQUEST,
      id: request.id,
      expectedVersion,
      resource: request,
      index: adviceIndex(request),
    },
    { type: ADVICE_MESSAGE, id: message.id, expectedVersion: 0, resource: message, index: [] },
  ];
}
