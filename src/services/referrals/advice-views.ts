/**
 * What callers see of advice and guidance records, shaped as the published answers: a024's
 * CommunicationRequest, a044's and a026's Parameters, a025's conversation Bundle (messages with their
 * PractitionerRoles and DocumentReferences included by reference) and a023's worklist List.
 */
import { randomUUID } from 'node:crypto';
import type { StoredResource } from '../../store/resource-store.js';
import {
  ADVICE_PROFILE,
  adviceServiceOf,
  advicePatientOf,
  advicePriorityOf,
  adviceStateOf,
  firstRequestedOf,
  MESSAGE_PROFILE,
  OWN_EXTENSION_PREFIX,
  SDS_USER_SYSTEM,
  type AdviceMessage,
  type AdviceRequest,
} from './advice-model.js';
import type { ConversationQuery } from './advice-read-rules.js';
import {
  ERS_SERVICE_SYSTEM,
  NHS_NUMBER_SYSTEM_STU3,
  PRIORITY_SYSTEM,
  type Extension,
} from './referral-model.js';

const published = (extension: Extension[] | undefined) =>
  (extension ?? []).filter((e) => !e.url.startsWith(OWN_EXTENSION_PREFIX));

/** A stored request as e-RS answers it: its version and profile in meta, OpenSpine's extensions removed. */
export function adviceView(stored: StoredResource<AdviceRequest>): AdviceRequest {
  const r = stored.resource;
  return {
    ...r,
    extension: published(r.extension),
    meta: { ...r.meta, versionId: String(stored.version), profile: [ADVICE_PROFILE] },
  };
}

/** A stored message as e-RS answers it (e-RS numbers a message's versions from 0). */
export function messageView(stored: StoredResource<AdviceMessage>): AdviceMessage {
  const m = stored.resource;
  const extension = published(m.extension);
  const { lastUpdated: _l, ...meta } = m.meta ?? {};
  return {
    ...m,
    meta: { ...meta, versionId: String(stored.version - 1), profile: [MESSAGE_PROFILE] },
    ...(extension.length ? { extension } : {}),
  };
}

const parameters = (profile: string, parameter: Record<string, unknown>[]) => ({
  resourceType: 'Parameters',
  meta: { profile: [`https://fhir.nhs.uk/STU3/StructureDefinition/${profile}`] },
  parameter,
});

/** a044's answer: eRS-CreateAdviceAndGuidance-Response-Parameters-1. */
export function createdAdviceView(
  request: StoredResource<AdviceRequest>,
  message: StoredResource<AdviceMessage>,
) {
  return parameters('eRS-CreateAdviceAndGuidance-Response-Parameters-1', [
    { name: 'createdCommunicationRequest', resource: adviceView(request) },
    { name: 'createdCommunication', resource: messageView(message) },
  ]);
}

/** a026's answer: eRS-SendCommunicationToRequester-Response-Parameters-1. */
export function respondedView(
  request: StoredResource<AdviceRequest>,
  message: StoredResource<AdviceMessage>,
) {
  return parameters('eRS-SendCommunicationToRequester-Response-Parameters-1', [
    { name: 'updatedCommunicationRequest', resource: adviceView(request) },
    { name: 'createdCommunication', resource: messageView(message) },
  ]);
}

const ROLE = 'PractitionerRole.';
const DOCUMENT = 'DocumentReference-';

/** Rewrites `#PractitionerRole.x` / `#DocumentReference-x` to the literal references a025 uses. */
function literal(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(literal);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        k === 'reference' && typeof v === 'string' ? literalReference(v) : literal(v),
      ]),
    );
  return value;
}

function literalReference(ref: string): string {
  if (ref.startsWith(`#${ROLE}`)) return `PractitionerRole/${ref.slice(ROLE.length + 1)}`;
  if (ref.startsWith(`#${DOCUMENT}`)) return `DocumentReference/${ref.slice(DOCUMENT.length + 1)}`;
  return ref;
}

/**
 * a025's answer: every message of the conversation in the order sent (search mode match), then the
 * PractitionerRoles and DocumentReferences they name (mode include), each once, as asked.
 */
export function conversationView(
  baseUrl: string,
  request: StoredResource<AdviceRequest>,
  messages: StoredResource<AdviceMessage>[],
  query: ConversationQuery,
) {
  const includes = new Map<string, Record<string, unknown>>();
  const entries = messages.map((stored) => {
    const { contained, ...message } = messageView(stored);
    for (const c of contained ?? []) {
      const id = String(c.id ?? '');
      if (c.resourceType === 'PractitionerRole' && query.roles && id.startsWith(ROLE))
        includes.set(`PractitionerRole/${id.slice(ROLE.length)}`, {
          ...c,
          id: id.slice(ROLE.length),
        });
      if (c.resourceType === 'DocumentReference' && query.documents && id.startsWith(DOCUMENT))
        includes.set(`DocumentReference/${id.slice(DOCUMENT.length)}`, {
          ...c,
          id: id.slice(DOCUMENT.length),
        });
    }
    return {
      fullUrl: `${baseUrl}/Communication/${message.id}`,
      resource: literal(message),
      search: { mode: 'match' },
    };
  });
  const at = `CommunicationRequest/${request.id}/_history/${request.version}`;
  const include = [
    ...(query.roles
      ? [
          'Communication:requester-practitionerrole:PractitionerRole',
          'Communication:sender-practitionerrole:PractionerRole',
        ]
      : []),
    ...(query.documents ? ['Communication:content-reference:DocumentReference'] : []),
  ];
  return {
    id: randomUUID(),
    meta: {
      lastUpdated: request.lastUpdated,
      profile: ['http://hl7.org/fhir/STU3/StructureDefinition/Bundle'],
    },
    resourceType: 'Bundle',
    type: 'searchset',
    total: entries.length,
    link: [
      {
        relation: 'self',
        url: `${baseUrl}/Communication?based-on=${at}${include.map((i) => `&_include=${i}`).join('')}`,
      },
    ],
    entry: [
      ...entries,
      ...[...includes].map(([ref, resource]) => ({
        fullUrl: `${baseUrl}/${ref}`,
        resource,
        search: { mode: 'include' },
      })),
    ],
  };
}

const WORKLIST_ITEM =
  'https://fhir.nhs.uk/STU3/StructureDefinition/Extension-eRS-AdviceAndGuidanceRequests-WorkListItem-1';

/** The search criterion `name` of the request's shortlist, when given. */
function criterion(r: AdviceRequest, name: string): string | undefined {
  const criteria = r.contained.find((c) => c.resourceType === 'Parameters');
  return criteria?.parameter?.find((p: any) => p?.name === name)?.valueCoding?.code;
}

/** a023's answer: eRS-FetchWorklist-List-1 with one WorkListItem per request. */
export function adviceWorklistView(
  baseUrl: string,
  requests: StoredResource<AdviceRequest>[],
  serviceNames: Map<string, string>,
) {
  const cc = (system: string, code: string) => ({
    valueCodeableConcept: { coding: [{ system, code }] },
  });
  return {
    meta: { profile: ['https://fhir.nhs.uk/STU3/StructureDefinition/eRS-FetchWorklist-List-1'] },
    resourceType: 'List',
    status: 'current',
    mode: 'snapshot',
    entry: requests.map(({ resource: r, version, lastUpdated }) => {
      const service = adviceServiceOf(r);
      const specialty = r.extension.find((e) => e.url.endsWith('Extension-eRS-Specialty-1'))
        ?.valueCoding as { system: string; code: string } | undefined;
      const clinicType = criterion(r, 'clinicType');
      // the clinician the request is for (an admin may have sent it on their behalf)
      const agent = (r.requester as any)?.agent?.extension?.[0]?.valueReference?.reference;
      const requester = r.contained.find(
        (c) => c.resourceType === 'PractitionerRole' && `#${c.id}` === agent,
      );
      const parts: Extension[] = [
        { url: 'priority', ...cc(PRIORITY_SYSTEM, advicePriorityOf(r)) },
        ...(specialty ? [{ url: 'specialty', ...cc(specialty.system, specialty.code) }] : []),
        {
          url: 'patient',
          valueReference: {
            identifier: { system: NHS_NUMBER_SYSTEM_STU3, value: advicePatientOf(r) },
          },
        },
        { url: 'category', ...cc(r.category[0].coding[0].system, adviceStateOf(r)) },
        { url: 'adviceFirstRequested', valueDateTime: firstRequestedOf(r) ?? lastUpdated },
        { url: 'adviceLastUpdated', valueDateTime: lastUpdated },
        ...(requester
          ? [
              {
                url: 'referrer',
                valueReference: {
                  identifier: {
                    system: SDS_USER_SYSTEM,
                    value: requester.practitioner.identifier.value,
                  },
                },
              },
            ]
          : []),
        {
          url: 'service',
          valueReference: {
            identifier: { system: ERS_SERVICE_SYSTEM, value: service },
            display: serviceNames.get(service) ?? service,
          },
        },
        ...(clinicType
          ? [{ url: 'clinicType', ...cc(`${baseUrl}/CodeSystem/CLINIC-TYPE`, clinicType) }]
          : []),
        { url: 'communicationRequestVersion', valueInteger: version },
      ];
      return {
        extension: [{ extension: parts, url: WORKLIST_ITEM }],
        item: { reference: `CommunicationRequest/${r.id}` },
      };
    }),
  };
}
