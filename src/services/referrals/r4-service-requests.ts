/**
 * a041 (GET /R4/ServiceRequest?identifier=[system|]UBRN): the R4 ids of the referral and/or the
 * advice and guidance request held under one UBRN (an A&G converted to a referral keeps its UBRN, so
 * a UBRN can be both), each as the published mocks show it
 * (sandbox/src/mocks/r4/searchServiceRequest/responses/*.json): id, meta.versionId, the UBRN,
 * status, intent order, category referral or request (plus code advice-and-guidance), subject.
 *
 * The R4 id is `r.<UBRN>` for the referral and `a.<UBRN>` for the A&G request: the published mocks'
 * `r.`/`a.` prefixes, with the UBRN in place of their UUID, so an id is stable per (kind, UBRN) and
 * resolves without a second index. Only what the caller's organisation is a party to is listed (the
 * one access rule: `partyOf` for a referral, the A&G referrer or provider for a request); anything
 * else is an empty searchset, as published, so the search does not tell a stranger a UBRN exists.
 * Every search is audited, with what it listed.
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import { noteReadPatient, type RequestContext } from '../../context.js';
import type { ResourceStore, StoredResource } from '../../store/resource-store.js';
import {
  ADVICE_REQUEST,
  advicePatientOf,
  adviceProviderOf,
  adviceReferrerOf,
  type AdviceRequest,
} from './advice-model.js';
import { badRequest, R4Error, HTTP_ERROR_SYSTEM } from './r4-errors.js';
import { partyOf } from './referral-access.js';
import {
  patientOf,
  REFERRAL_REQUEST,
  UBRN_PATTERN,
  type ReferralRequest,
} from './referral-model.js';

export const UBRN_SYSTEM = 'https://fhir.nhs.uk/Id/UBRN';
export const SERVICE_REQUEST_CATEGORY_SYSTEM =
  'https://fhir.nhs.uk/CodeSystem/message-category-servicerequest';
export const SERVICE_REQUEST_CODE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/servicerequest-code';
export const NHS_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/nhs-number';
export const SERVICE_REQUEST_SEARCH_PARAMS = ['identifier'] as const;

export type ServiceRequestKind = 'referral' | 'request';
const PREFIX: Record<ServiceRequestKind, string> = { referral: 'r.', request: 'a.' };

/** The R4 id of the referral (`r.`) or A&G request (`a.`) held under `ubrn`. */
export const serviceRequestId = (kind: ServiceRequestKind, ubrn: string): string =>
  PREFIX[kind] + ubrn;

/** a041's 400: the published searchServiceRequest/400Response (REC_BAD_REQUEST, issue `required`). */
const required = (diagnostics: string) =>
  new R4Error(400, 'required', HTTP_ERROR_SYSTEM, 'REC_BAD_REQUEST', diagnostics);

type Query = Record<string, string | string[] | undefined>;

/** The UBRN of `identifier=[https://fhir.nhs.uk/Id/UBRN|]<12 digits>`; anything else is 400. */
export function parseServiceRequestSearch(query: Query): string {
  const unknown = Object.keys(query).filter((k) => k !== 'identifier');
  if (unknown.length)
    throw badRequest(
      `Unsupported query parameter(s): ${unknown.map((k) => k.slice(0, 40)).join(', ')}`,
    );
  const given = query.identifier;
  if (given === undefined || given === '')
    throw required('The identifier parameter (the UBRN) is required');
  if (typeof given !== 'string') throw required('The identifier parameter must be given once');
  const bar = given.lastIndexOf('|');
  const system = bar < 0 ? undefined : given.slice(0, bar);
  const ubrn = bar < 0 ? given : given.slice(bar + 1);
  if (system !== undefined && system !== UBRN_SYSTEM)
    throw required(`The identifier system must be ${UBRN_SYSTEM}`);
  if (!UBRN_PATTERN.test(ubrn)) throw required('The identifier must be a UBRN of 12 digits');
  return ubrn;
}

/** R4 ServiceRequest status from the stored STU3 status (cancelled is R4's revoked). */
const r4Status = (status: string): string =>
  status === 'cancelled' ? 'revoked' : status === 'suspended' ? 'on-hold' : status;

/** One ServiceRequest entry's resource, as the published mocks show it. */
export function serviceRequestOf(
  kind: ServiceRequestKind,
  stored: StoredResource<ReferralRequest> | StoredResource<AdviceRequest>,
  nhsNumber: string,
) {
  return {
    id: serviceRequestId(kind, stored.id),
    meta: { versionId: String(stored.version) },
    resourceType: 'ServiceRequest',
    identifier: [{ system: UBRN_SYSTEM, value: stored.id }],
    status: r4Status(String(stored.resource.status)),
    intent: 'order',
    category: [{ coding: [{ system: SERVICE_REQUEST_CATEGORY_SYSTEM, code: kind }] }],
    ...(kind === 'request'
      ? {
          code: {
            coding: [{ system: SERVICE_REQUEST_CODE_SYSTEM, code: 'advice-and-guidance' }],
          },
        }
      : {}),
    subject: { identifier: { system: NHS_NUMBER_SYSTEM, value: nhsNumber } },
  };
}

export type ServiceRequestEntry = ReturnType<typeof serviceRequestOf>;

/** a041's answer: the published searchServiceRequest/200Response searchset. */
export function serviceRequestSearchset(
  found: ServiceRequestEntry[],
  selfUrl: string,
  resourceUrl: (id: string) => string,
  id: string,
) {
  const now = new Date().toISOString();
  return {
    id,
    resourceType: 'Bundle',
    meta: { lastUpdated: now },
    timestamp: now,
    link: [{ relation: 'self', url: selfUrl }],
    total: found.length,
    type: 'searchset',
    ...(found.length
      ? {
          entry: found.map((resource) => ({
            fullUrl: resourceUrl(resource.id),
            resource,
            search: { mode: 'match' },
          })),
        }
      : {}),
  };
}

/** The referral and A&G request under `ubrn` the caller's organisation is a party to; audited. */
export async function searchServiceRequests(
  deps: { store: ResourceStore; audit: AuditWriter },
  ctx: RequestContext,
  ods: string,
  ubrn: string,
): Promise<ServiceRequestEntry[]> {
  const [referral, advice] = await Promise.all([
    deps.store.read(REFERRAL_REQUEST, ubrn),
    deps.store.read(ADVICE_REQUEST, ubrn),
  ]);
  const found: ServiceRequestEntry[] = [];
  let patient: string | null = null;
  if (referral && partyOf(referral.resource, { ods })) {
    patient = patientOf(referral.resource);
    found.push(serviceRequestOf('referral', referral, patient));
  }
  if (
    advice &&
    (adviceReferrerOf(advice.resource) === ods || adviceProviderOf(advice.resource) === ods)
  ) {
    patient = advicePatientOf(advice.resource);
    found.push(serviceRequestOf('request', advice, patient));
  }
  // the answer names the patient: it is released against them (location-release-hook.ts)
  if (patient) noteReadPatient(ctx, patient);
  await deps.audit.append(
    auditRecord(ctx, 'ers.serviceRequest.search', patient, 'success', {
      ubrn,
      listed: found.map((f) => f.id),
    }),
  );
  return found;
}
