/**
 * The provider's review of a booked referral and what a caller may do to a referral now, checked
 * without the store: $ers.rejectReferral's body (a014, eRS-RejectReferral-Parameters), the query of
 * available actions (a029, GET /Task) and the table of those actions. Refusals in eRS's words.
 */
import { ERS_BUSINESS_FUNCTIONS, roleAllows, type Activity } from '../../security/policy.js';
import { ersError } from './ers-errors.js';
import type { ReferralParty } from './referral-access.js';
import { UBRN_PATTERN } from './referral-model.js';
import { TRANSITIONS, type ReferralAction, type ReferralState } from './referral-transitions.js';
import { knownParameters } from './ers-parameters.js';

/**
 * The APPOINTMENT-CANCELLATION-REASON codes a provider rejects with (appointmentBookingCancellation
 * ReasonType PROVIDER_REJECT, usage REJECT, business functions SERVICE_PROVIDER_CLINICIAN and _ADMIN,
 * no effectiveTo, comment not mandatory, in the published
 * sandbox/src/mocks/stu3/getCodeSystem/responses/AppointmentCancellationReasonCodeSystem.json).
 */
export const REJECTION_REASONS: Record<string, string> = {
  FURTHER_INFORMATION_REQUIRED: 'Further information required',
  OTHER: 'Other reason',
  OUTPATIENT_APPT_NOT_REQUIRED: 'Outpatient appointment not required',
  SERVICE_INAPPROPRIATE: 'Inappropriate service',
  SERVICE_PREREQUISITES_NOT_COMPLETE: 'Pre-requisites for service not complete',
};
const REASON_SYSTEM_SUFFIX = '/STU3/CodeSystem/APPOINTMENT-CANCELLATION-REASON';
const MAX_COMMENT = 2000;

export interface RejectReferralRequest {
  reason: { system: string; code: string; display: string };
  comments?: string;
  appointmentCancelledInPAS?: boolean;
}

/** $ers.rejectReferral's body (eRS-RejectReferral-Parameters). */
export function parseRejectReferral(body: unknown): RejectReferralRequest {
  const p = knownParameters(body, [
    'rejectionReason',
    'rejectionComments',
    'appointmentCancelledInPAS',
  ]);
  const reasonParam = p.one('rejectionReason');
  if (!reasonParam)
    throw ersError(422, 'required', 'MISSING_VALUE', "'rejectionReason' parameter is required");
  const reason = reasonParam.valueCoding as { system?: unknown; code?: unknown } | undefined;
  if (
    typeof reason?.system !== 'string' ||
    !reason.system.endsWith(REASON_SYSTEM_SUFFIX) ||
    typeof reason.code !== 'string' ||
    !Object.hasOwn(REJECTION_REASONS, reason.code)
  )
    throw ersError(
      422,
      'code-invalid',
      'INVALID_CODE',
      `'rejectionReason' must be one of ${Object.keys(REJECTION_REASONS).join(', ')} (APPOINTMENT-CANCELLATION-REASON)`,
    );
  const commentsParam = p.one('rejectionComments');
  const comments = commentsParam?.valueString;
  if (commentsParam && (typeof comments !== 'string' || comments.length > MAX_COMMENT))
    throw ersError(
      422,
      'value',
      'INVALID_VALUE',
      `'rejectionComments' must be a string of at most ${MAX_COMMENT} characters`,
    );
  const pasParam = p.one('appointmentCancelledInPAS');
  if (pasParam && typeof pasParam.valueBoolean !== 'boolean')
    throw ersError(
      422,
      'value',
      'INVALID_VALUE',
      "'appointmentCancelledInPAS' must be a valueBoolean",
    );
  return {
    reason: { system: reason.system, code: reason.code, display: REJECTION_REASONS[reason.code] },
    ...(typeof comments === 'string' && comments ? { comments } : {}),
    ...(pasParam ? { appointmentCancelledInPAS: pasParam.valueBoolean as boolean } : {}),
  };
}

export const AVAILABLE_ACTION_SYSTEM =
  'https://fhir.nhs.uk/STU3/CodeSystem/eRS-AvailableActionsForUser-1';

/**
 * The actions a029 publishes, what each one is in the state machine, which side of the referral
 * performs it and the activity it needs. Whether one is available now is computed from the
 * transition table (TRANSITIONS), never listed per state.
 */
export const AVAILABLE_ACTIONS: readonly {
  code: string;
  display: string;
  actions: readonly ReferralAction[];
  party: ReferralParty;
  activity: Activity;
}[] = [
  {
    code: 'RECORD_REVIEW_OUTCOME',
    display: 'Record Review Outcome',
    actions: ['triageAcceptBookLater', 'triageReturn'],
    party: 'provider',
    activity: 'ers.referral.review',
  },
  {
    code: 'CANCEL_DIRECTLY_BOOKED_APPOINTMENT',
    display: 'Cancel Directly Booked Appointment',
    actions: ['cancelAppointment'],
    party: 'referrer',
    activity: 'ers.appointment.book',
  },
  {
    code: 'CANCEL_REFERRAL',
    display: 'Cancel Referral',
    actions: ['cancel'],
    party: 'referrer',
    activity: 'ers.referral.cancel',
  },
  {
    code: 'CREATE_APPOINTMENT',
    display: 'Create Appointment',
    actions: ['book'],
    party: 'referrer',
    activity: 'ers.appointment.book',
  },
  {
    code: 'CHANGE_SHORTLIST',
    display: 'Change Shortlist',
    actions: ['changeShortlist'],
    party: 'referrer',
    activity: 'ers.referral.create',
  },
  {
    code: 'CHANGE_SHORTLIST_AND_SEND_FOR_TRIAGE',
    display: 'Change Shortlist and Send for Triage',
    actions: ['sendForTriage'],
    party: 'referrer',
    activity: 'ers.referral.create',
  },
];

/**
 * The published actions this caller may perform on a referral in `state` now: its side of the
 * referral performs the action, the transition table allows it from `state`, and both the caller's
 * business function and role allow its activity.
 */
export function availableActions(
  state: ReferralState,
  party: ReferralParty,
  businessFunction: string,
  role: string,
): { code: string; display: string }[] {
  const fnAllows = (a: Activity) =>
    Object.hasOwn(ERS_BUSINESS_FUNCTIONS, businessFunction) &&
    ERS_BUSINESS_FUNCTIONS[businessFunction].includes(a);
  return AVAILABLE_ACTIONS.filter(
    (a) =>
      a.party === party &&
      a.actions.some((action) => TRANSITIONS[action][state] !== undefined) &&
      fnAllows(a.activity) &&
      roleAllows(role, a.activity),
  ).map(({ code, display }) => ({ code, display }));
}

export interface TaskQuery {
  ubrn: string;
  version: number;
  focus: string;
}

type Query = Record<string, string | string[] | undefined>;

const badRequest = (code: string, why: string) => ersError(400, 'value', code, why);

/** a029's query: focus=ReferralRequest/{ubrn}/_history/{version}, intent=proposal, status=ready. */
export function parseTaskQuery(query: Query): TaskQuery {
  const single = (name: string): string => {
    const v = query[name];
    if (v === undefined || v === '')
      throw ersError(400, 'required', 'MISSING_PARAMETER', `'${name}' parameter is required`);
    if (Array.isArray(v)) throw badRequest('INVALID_VALUE', `'${name}' may be given only once`);
    return v;
  };
  const unknown = Object.keys(query).filter((k) => !['focus', 'intent', 'status'].includes(k));
  if (unknown.length)
    throw badRequest('INVALID_VALUE', `unknown parameter(s): ${unknown.join(', ').slice(0, 80)}`);
  const focus = single('focus');
  if (single('intent') !== 'proposal')
    throw badRequest('INVALID_VALUE', "'intent' must be 'proposal'");
  if (single('status') !== 'ready') throw badRequest('INVALID_VALUE', "'status' must be 'ready'");
  const m = /^ReferralRequest\/([^/]+)\/_history\/([1-9][0-9]{0,8})$/.exec(focus);
  if (!m || !UBRN_PATTERN.test(m[1]))
    throw badRequest(
      'INVALID_VALUE',
      "'focus' must be ReferralRequest/{ubrn}/_history/{version} (a 12-digit UBRN)",
    );
  return { ubrn: m[1], version: Number(m[2]), focus };
}
