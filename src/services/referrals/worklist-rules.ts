/**
 * The referral worklists ($ers.fetchworklist, a008), checked without the store: the published list
 * types and which side of a referral each one is for, the states it holds (derived from the
 * transition table), and the body (eRS-FetchWorklist-Parameters) with its provider filters.
 */
import { serviceOfAppointment, type Appointment } from './appointment-model.js';
import { ersError } from './ers-errors.js';
import { ERS_SERVICE_SYSTEM, SHORTLIST_URL, type ReferralRequest } from './referral-model.js';
import { TRANSITIONS, type ReferralAction, type ReferralState } from './referral-transitions.js';
import { knownParameters } from './ers-parameters.js';

export const LIST_SELECTOR_SYSTEM =
  'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ReferralListSelector-1';
const COMMUNICATION_SELECTOR_SYSTEM =
  'https://fhir.nhs.uk/STU3/CodeSystem/eRS-CommunicationListSelector-1';
const ASSIGNED_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-AssignedIndicator-1';
const SITE_SYSTEM = 'https://directory.spineservices.nhs.uk/STU3/Organization';
/** The most referrals one worklist answers (e-RS refuses a worklist over 10MB; narrow it by service). */
export const MAX_WORKLIST = 1000;

/** The states from which any of `actions` may be taken (the transition table's rows). */
const from = (...actions: ReferralAction[]): ReferralState[] => [
  ...new Set(actions.flatMap((a) => Object.keys(TRANSITIONS[a]) as ReferralState[])),
];

export interface Worklist {
  side: 'provider' | 'referrer';
  states: ReferralState[];
  /** The item extension's url (Extension-eRS-<name>-WorkListItem-1). */
  item: string;
}

/**
 * The worklists OpenSpine serves: the provider's referrals awaiting its review (booked, or sent for
 * triage) and its deferrals; the referrer's rejected or returned referrals and those still to be
 * booked. LETTERS_OUTSTANDING and ASSESSMENT_RETURNED_CANCELLED_DNA need letters and clinical
 * assessments, which OpenSpine does not hold yet.
 */
export const WORKLISTS: Record<string, Worklist> = {
  REFERRALS_FOR_REVIEW: {
    side: 'provider',
    states: from('accept', 'reject', 'triageAcceptBookLater', 'triageReturn'),
    item: 'ReferralsforReview',
  },
  APPOINTMENT_SLOT_ISSUES: {
    side: 'provider',
    states: ['DEFERRED_TO_PROVIDER'],
    item: 'AppointmentSlotIssues',
  },
  REJECTED_TRIAGE_RESPONSE: {
    side: 'referrer',
    states: ['REJECTED', 'TRIAGE_RESPONSE'],
    item: 'RejectedTriageResponse',
  },
  // "referrals for which an appointment booking could be made but they do not currently have an
  // appointment booking. This includes referrals that are currently awaiting triage, deferred to
  // provider, or have had their appointment booking cancelled" (a008)
  AWAITING_BOOKING: {
    side: 'referrer',
    states: [...from('book'), 'AWAITING_TRIAGE'],
    item: 'AwaitingBooking',
  },
};
const PUBLISHED_NOT_SERVED = ['LETTERS_OUTSTANDING', 'ASSESSMENT_RETURNED_CANCELLED_DNA'];

export interface WorklistFilters {
  service?: string;
  /** A specialty code, or null for referrals with none (NOT_ASSIGNED). */
  specialty?: string | null;
  /** A clinician's SDS user ID, or null for referrals allocated to none (NOT_ASSIGNED). */
  clinician?: string | null;
  location?: string;
}

export interface WorklistRequest {
  listType: string;
  worklist: Worklist;
  filters: WorklistFilters;
}

const bad = (code: string, why: string) => ersError(422, 'value', code, why);
type Param = Record<string, unknown> | undefined;

const FILTERS = [
  'service',
  'specialtyAssignedIndicator',
  'specialty',
  'location',
  'clinicianAssignedIndicator',
  'clinician',
] as const;

/** $ers.fetchworklist's body (eRS-FetchWorklist-Parameters). */
export function parseFetchWorklist(body: unknown): WorklistRequest {
  const p = knownParameters(body, ['listType', ...FILTERS]);
  const listParam = p.one('listType');
  if (!listParam)
    throw ersError(422, 'required', 'MISSING_VALUE', "'listType' parameter is required");
  const codings = (listParam.valueCodeableConcept as { coding?: unknown } | undefined)?.coding;
  const coding = (Array.isArray(codings) && codings.length === 1 ? codings[0] : undefined) as
    { system?: unknown; code?: unknown } | undefined;
  const code = typeof coding?.code === 'string' ? coding.code : '';
  if (coding?.system === COMMUNICATION_SELECTOR_SYSTEM && code === 'ADVICE_AND_GUIDANCE_REQUESTS')
    throw bad(
      'INVALID_VALUE',
      'Advice and guidance worklists are fetched with $ers.fetchAdviceAndGuidanceWorklist (a023)',
    );
  if (coding?.system === LIST_SELECTOR_SYSTEM && PUBLISHED_NOT_SERVED.includes(code))
    throw bad('INVALID_VALUE', `The ${code} worklist is not served by OpenSpine yet`);
  if (coding?.system !== LIST_SELECTOR_SYSTEM || !Object.hasOwn(WORKLISTS, code))
    throw ersError(
      422,
      'code-invalid',
      'INVALID_CODE',
      `'listType' must be one coding of ${LIST_SELECTOR_SYSTEM}: ${Object.keys(WORKLISTS).join(', ')}`,
    );
  const worklist = WORKLISTS[code];
  const given = FILTERS.filter((f) => p.one(f));
  if (worklist.side === 'referrer' && given.length)
    throw bad('UNEXPECTED_FIELD', `Referring organisation worklists take no filters (${given[0]})`);
  return { listType: code, worklist, filters: parseFilters(p.one) };
}

function parseFilters(one: (name: string) => Param): WorklistFilters {
  const identifier = (name: string, system: string | undefined): string | undefined => {
    const param = one(name);
    if (!param) return undefined;
    const id = param.valueIdentifier as { system?: unknown; value?: unknown } | undefined;
    if (
      !id ||
      (system !== undefined && id.system !== system) ||
      typeof id.value !== 'string' ||
      !/^[A-Za-z0-9._-]{1,64}$/.test(id.value)
    )
      throw bad(
        'INVALID_VALUE',
        `'${name}' must be a valueIdentifier${system ? ` (${system})` : ''}`,
      );
    return id.value;
  };
  const indicator = (name: string): boolean | undefined => {
    const param = one(name);
    if (!param) return undefined;
    const c = (param.valueCodeableConcept as { coding?: { system?: unknown; code?: unknown }[] })
      ?.coding;
    const coding = Array.isArray(c) && c.length === 1 ? c[0] : undefined;
    if (
      coding?.system !== ASSIGNED_SYSTEM ||
      (coding.code !== 'ASSIGNED' && coding.code !== 'NOT_ASSIGNED')
    )
      throw ersError(
        422,
        'code-invalid',
        'INVALID_CODE',
        `'${name}' must be ASSIGNED or NOT_ASSIGNED (${ASSIGNED_SYSTEM})`,
      );
    return coding.code === 'ASSIGNED';
  };
  const filters: WorklistFilters = {};
  const service = identifier('service', ERS_SERVICE_SYSTEM);
  if (service) filters.service = service;
  const location = identifier('location', SITE_SYSTEM);
  if (location) filters.location = location;

  const specialtyAssigned = indicator('specialtyAssignedIndicator');
  const specialtyParam = one('specialty');
  let specialty: string | undefined;
  if (specialtyParam) {
    const c = (specialtyParam.valueCodeableConcept as { coding?: { code?: unknown }[] })?.coding;
    const code = Array.isArray(c) && c.length === 1 ? c[0]?.code : undefined;
    if (typeof code !== 'string' || !/^[A-Z0-9_]{1,64}$/.test(code))
      throw bad('INVALID_VALUE', "'specialty' must be a valueCodeableConcept with one coding");
    specialty = code;
  }
  const clinician = identifier('clinician', undefined);
  const clinicianAssigned = indicator('clinicianAssignedIndicator');
  if (specialty !== undefined && specialtyAssigned !== true)
    throw bad('INVALID_VALUE', "'specialty' needs 'specialtyAssignedIndicator' ASSIGNED");
  if (specialtyAssigned === true && specialty === undefined)
    throw bad('MISSING_VALUE', "'specialtyAssignedIndicator' ASSIGNED needs a 'specialty'");
  if (clinician !== undefined && clinicianAssigned !== true)
    throw bad('INVALID_VALUE', "'clinician' needs 'clinicianAssignedIndicator' ASSIGNED");
  if (clinicianAssigned === true && clinician === undefined)
    throw bad('MISSING_VALUE', "'clinicianAssignedIndicator' ASSIGNED needs a 'clinician'");
  if (specialtyAssigned !== undefined) filters.specialty = specialty ?? null;
  if (clinicianAssigned !== undefined) filters.clinician = clinician ?? null;
  return filters;
}

/**
 * The e-RS service ids a referral names, most specific first: the service of its current
 * appointment (booked into, deferred or sent for triage to), then its shortlist's.
 */
export function servicesOf(referral: ReferralRequest, appointment?: Appointment): string[] {
  const ids: string[] = appointment ? [serviceOfAppointment(appointment)] : [];
  const shortlistRef = referral.extension.find((e) => e.url === SHORTLIST_URL);
  const listId = (shortlistRef?.valueReference as { reference?: string } | undefined)?.reference;
  const list = (referral.contained ?? []).find(
    (r) => `#${String(r.id)}` === listId && r.resourceType === 'List',
  );
  for (const e of (list?.entry as { item?: { identifier?: Record<string, unknown> } }[]) ?? [])
    if (e?.item?.identifier?.system === ERS_SERVICE_SYSTEM)
      ids.push(String(e.item.identifier.value));
  return [...new Set(ids)];
}
