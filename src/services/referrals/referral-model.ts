/**
 * The e-Referral Service's stored records: the ReferralRequest (STU3, as published in
 * NHSDigital/e-referrals-service-api specification/components/stu3/schemas/eRS-ReferralRequest.yaml)
 * keyed by its UBRN, and how a new UBRN is drawn.
 */
import { randomInt } from 'node:crypto';
import { resourceType } from '../../store/resource-store.js';
import type { IndexEntry } from '../../store/resource-store.js';
import { REFERRAL_STATES, type ReferralState } from './referral-transitions.js';

export const ERS_PROFILE = 'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-ReferralRequest-1';
export const ERS_EXTENSION = 'https://fhir.nhs.uk/STU3/StructureDefinition/';
export const REFERRAL_STATE_URL = `${ERS_EXTENSION}Extension-eRS-ReferralState-1`;
export const REFERRAL_STATE_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ReferralState-1';
export const PRIORITY_URL = `${ERS_EXTENSION}Extension-eRS-ReferralPriority-1`;
export const PRIORITY_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-Priority-1';
export const SHORTLIST_URL = `${ERS_EXTENSION}Extension-eRS-ReferralShortlist-1`;
export const PATHWAY_START_URL = `${ERS_EXTENSION}Extension-eRS-eReferralPathwayStart-1`;
/** OpenSpine's own record of the referring organisation (for access); referralView removes it. */
export const REFERRER_ORG_URL = 'https://openspine.dev/STU3/Extension-eRS-ReferringOrganisation';
/**
 * OpenSpine's own record of the providers a referral was sent to (booked into, deferred to, sent for
 * triage to), one valueIdentifier each, for access and worklists; referralView removes it.
 */
export const PROVIDER_ORG_URL = 'https://openspine.dev/STU3/Extension-eRS-ProviderOrganisation';
export const COMMISSIONING_ORG_URL = `${ERS_EXTENSION}Extension-eRS-Commissioning-Rule-Org-1`;
/** As the published examples spell them. */
export const NHS_NUMBER_SYSTEM_STU3 = 'http://fhir.nhs.net/Id/nhs-number';
export const ERS_SERVICE_SYSTEM = 'http://fhir.nhs.net/Id/ers-service';
export const ODS_SYSTEM_STU3 = 'https://fhir.nhs.uk/Id/ods-organization-code';

/** The STU3 ReferralRequest as stored (the fields this slice writes; others pass through). */
export interface ReferralRequest {
  resourceType: 'ReferralRequest';
  id: string;
  meta?: { versionId?: string; lastUpdated?: string; profile?: string[] };
  extension: Extension[];
  contained?: Record<string, unknown>[];
  status: 'active' | 'cancelled';
  intent: 'plan';
  subject: { identifier: { system: string; value: string } };
  supportingInfo: unknown[];
  [field: string]: unknown;
}

export interface Extension {
  url: string;
  extension?: Extension[];
  [value: string]: unknown;
}

export const REFERRAL_REQUEST = resourceType<ReferralRequest>('ReferralRequest');

/**
 * A UBRN's reservation: referrals and advice and guidance requests draw from one UBRN space (an
 * A&G request keeps its UBRN when converted to a referral), so whichever is created first writes
 * this record at expectedVersion 0 in its own commit, and the store refuses the other: no UBRN is
 * ever held twice, even by two processes racing.
 */
export interface UbrnReservation {
  ubrn: string;
  heldBy: 'ReferralRequest' | 'CommunicationRequest';
}
export const UBRN_RESERVATION = resourceType<UbrnReservation>('ErsUbrn');

export const ubrnReservation = (ubrn: string, heldBy: UbrnReservation['heldBy']) => ({
  type: UBRN_RESERVATION,
  id: ubrn,
  expectedVersion: 0,
  resource: { ubrn, heldBy },
  index: [],
});
/** A UBRN is 12 digits (e.g. 000000070000 in the published examples). */
export const UBRN_PATTERN = /^[0-9]{12}$/;
/**
 * A new UBRN: 12 digits drawn at random. A patient books with the UBRN and a password, so the
 * next one must not be guessable from the last; uniqueness comes from the store (a referral is
 * created with expectedVersion 0, so a UBRN already held, even by a cancelled referral, is refused
 * and another is drawn), and a UBRN is therefore never reused.
 */
export const drawUbrn = (): string => String(randomInt(1, 1_000_000_000_000)).padStart(12, '0');

export function stateOf(referral: ReferralRequest): ReferralState {
  const ext = referral.extension.find((e) => e.url === REFERRAL_STATE_URL);
  const coding = ext?.extension?.find((e) => e.url === 'state')?.valueCoding as
    { code?: string } | undefined;
  const code = coding?.code as ReferralState | undefined;
  return code && REFERRAL_STATES.includes(code) ? code : 'NOT_BOOKED';
}

export const STATE_DISPLAY: Record<ReferralState, string> = {
  NOT_BOOKED: 'Not Booked',
  BOOKED: 'Booked',
  DEFERRED_TO_PROVIDER: 'Deferred to Provider',
  AWAITING_TRIAGE: 'Awaiting Triage',
  TRIAGE_RESPONSE: 'Triage Response',
  TRIAGED_PROVIDER_TO_ACTION: 'Triaged - Provider to Action',
  ACCEPTED: 'Accepted',
  REJECTED: 'Rejected',
  CANCELLED_REFERRAL: 'Cancelled Referral',
};

/** The published state extension; a cancellation carries its reason and comments in it. */
export function stateExtension(
  state: ReferralState,
  cancellation?: { reason: { system: string; code: string }; comments?: string },
): Extension {
  return {
    url: REFERRAL_STATE_URL,
    extension: [
      {
        url: 'state',
        valueCoding: { system: REFERRAL_STATE_SYSTEM, code: state, display: STATE_DISPLAY[state] },
      },
      ...(cancellation ? [{ url: 'reason', valueCoding: cancellation.reason }] : []),
      ...(cancellation?.comments ? [{ url: 'comments', valueString: cancellation.comments }] : []),
    ],
  };
}

export function referrerOf(referral: ReferralRequest): string {
  const ext = referral.extension.find((e) => e.url === REFERRER_ORG_URL);
  return (ext?.valueIdentifier as { value?: string } | undefined)?.value ?? '';
}

/** The ODS codes of the providers the referral has been sent to (PROVIDER_ORG_URL). */
export function providersOf(referral: ReferralRequest): string[] {
  return referral.extension
    .filter((e) => e.url === PROVIDER_ORG_URL)
    .map((e) => (e.valueIdentifier as { value?: string } | undefined)?.value ?? '')
    .filter(Boolean);
}

/** The referral with `ods` recorded among its providers (unchanged when it already is). */
export function withProvider(referral: ReferralRequest, ods: string): ReferralRequest {
  if (providersOf(referral).includes(ods)) return referral;
  return {
    ...referral,
    extension: [
      ...referral.extension,
      { url: PROVIDER_ORG_URL, valueIdentifier: { system: ODS_SYSTEM_STU3, value: ods } },
    ],
  };
}

export const patientOf = (referral: ReferralRequest): string => referral.subject.identifier.value;

export function referralIndex(referral: ReferralRequest): IndexEntry[] {
  return [
    { param: 'patient', value: patientOf(referral) },
    { param: 'referrer', value: referrerOf(referral) },
    { param: 'state', value: stateOf(referral) },
    ...providersOf(referral).map((value) => ({ param: 'provider', value })),
  ];
}
