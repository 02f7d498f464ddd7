/**
 * What a booking request must carry, checked without the store, refused in eRS's words: a015's
 * query (queryParameters/*.yaml), a016's and a034's eRS-Appointment body, a022's
 * eRS-cancelAppointmentActionLater-Parameters.
 */
import { ERS_PRIORITIES, type ErsPriority } from '../directory/index.js';
import { ersError } from './ers-errors.js';
import {
  APPOINTMENT_DESCRIPTION,
  CLINICIAN_TYPE_SYSTEM,
  REVIEW_REASON_SYSTEM,
  type Coding,
} from './appointment-model.js';
import {
  ERS_SERVICE_SYSTEM,
  NHS_NUMBER_SYSTEM_STU3,
  PRIORITY_SYSTEM,
  UBRN_PATTERN,
} from './referral-model.js';
import { SDS_USER_SYSTEM, SLOT_ID_PATTERN } from './slot-model.js';

const SERVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const SDS_ID = /^[0-9]{1,20}$/;
const ODS = /^[A-Za-z0-9]{3,10}$/;
const MAX_PAGE_SIZE = 100;

type Query = Record<string, unknown>;

const bad = (status: number, issue: string, code: string, why: string) =>
  ersError(status, issue, code, why);

/** A single query value, or undefined; repeated parameters are refused. */
function single(query: Query, name: string): string | undefined {
  const v = query[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string')
    throw bad(400, 'value', 'INVALID_VALUE', `'${name}' may be given only once`);
  return v;
}

function required(query: Query, name: string): string {
  const v = single(query, name);
  if (v === undefined || v === '')
    throw bad(400, 'required', 'MISSING_PARAMETER', `'${name}' search parameter is required`);
  return v;
}

function positive(query: Query, name: string, label: string, max?: number): number {
  const v = required(query, name);
  const n = /^[0-9]{1,9}$/.test(v) ? Number(v) : NaN;
  if (!(n >= 1) || (max !== undefined && n > max))
    throw bad(400, 'value', 'INVALID_VALUE', `'${label}' (${v.slice(0, 20)}) is invalid.`);
  return n;
}

export const SLOT_QUERY_PARAMS = [
  'schedule.actor:HealthcareService',
  'schedule.actor:Practitioner',
  'appointmentType',
  'status',
  '_count',
  'page',
  '_include',
] as const;

export interface SlotQuery {
  service: string;
  priority: ErsPriority;
  clinician?: string;
  count: number;
  page: number;
  commRuleOrg: string;
}

/** a015's query and its NHSD-eRS-Comm-Rule-Org header (400 in the words of ErrorOutcome.yaml). */
export function parseSlotQuery(query: Query, commRuleOrg: unknown): SlotQuery {
  for (const name of Object.keys(query))
    if (!(SLOT_QUERY_PARAMS as readonly string[]).includes(name))
      throw bad(
        400,
        'value',
        'INVALID_VALUE',
        `'${name.slice(0, 40)}' is not a known search parameter`,
      );
  const org = Array.isArray(commRuleOrg) ? commRuleOrg[0] : commRuleOrg;
  if (typeof org !== 'string' || org.trim() === '')
    throw bad(400, 'required', 'MISSING_HEADER', 'Missing or Empty NHSD-eRS-Comm-Rule-Org header.');
  if (!ODS.test(org.trim()))
    throw bad(400, 'value', 'INVALID_VALUE', "'NHSD-eRS-Comm-Rule-Org' must be an ODS code");
  const service = required(query, 'schedule.actor:HealthcareService');
  if (!SERVICE_ID.test(service))
    throw bad(
      400,
      'value',
      'INVALID_VALUE',
      `'schedule.actor:HealthcareService' (${service.slice(0, 20)}) is invalid.`,
    );
  const priority = required(query, 'appointmentType');
  if (!(ERS_PRIORITIES as readonly string[]).includes(priority))
    throw bad(
      400,
      'code-invalid',
      'INVALID_CODE',
      `'appointmentType' must be one of ${ERS_PRIORITIES.join(', ')}`,
    );
  const status = required(query, 'status');
  if (status !== 'free') throw bad(400, 'code-invalid', 'INVALID_CODE', "'status' must be 'free'");
  const include = single(query, '_include');
  if (include !== undefined && include !== 'Slot:schedule')
    throw bad(400, 'value', 'INVALID_VALUE', "'_include' may only be 'Slot:schedule'");
  const clinician = single(query, 'schedule.actor:Practitioner');
  if (clinician !== undefined && !SDS_ID.test(clinician))
    throw bad(
      400,
      'value',
      'INVALID_VALUE',
      "'schedule.actor:Practitioner' must be an SDS user ID",
    );
  return {
    service,
    priority: priority as ErsPriority,
    ...(clinician ? { clinician } : {}),
    count: positive(query, '_count', 'Page Size', MAX_PAGE_SIZE),
    page: positive(query, 'page', 'Page Number'),
    commRuleOrg: org.trim(),
  };
}

const unprocessable = (issue: string, code: string, why: string) => bad(422, issue, code, why);
const structure = (why: string) => unprocessable('structure', 'INVALID_FHIR_STRUCTURE', why);
const invalid = (why: string) => unprocessable('value', 'INVALID_VALUE', why);
const missing = (field: string) =>
  unprocessable('required', 'MISSING_VALUE', `'${field}' is missing.`);

const isObject = (v: unknown): v is Record<string, any> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const APPOINTMENT_FIELDS = [
  'id',
  'meta',
  'language',
  'resourceType',
  'status',
  'reason',
  'description',
  'start',
  'end',
  'slot',
  'created',
  'comment',
  'incomingReferral',
  'participant',
];

export interface AppointmentRequest {
  status: 'booked' | 'proposed' | 'cancelled';
  ubrn: string;
  referralVersion: number;
  service: string;
  nhsNumber: string;
  clinician?: string;
  slot?: string;
  reason?: Coding;
  comment?: string;
  /** A patient books a slot as offered: its named clinician (if any) comes with it. */
  clinicianFromSlot?: true;
}

/** The eRS-Appointment body of a016 and a034 (422 in the words of their 422Response.yaml). */
export function parseAppointment(body: unknown): AppointmentRequest {
  if (!isObject(body) || body.resourceType !== 'Appointment')
    throw structure('the body must be an Appointment resource');
  for (const key of Object.keys(body))
    if (!APPOINTMENT_FIELDS.includes(key))
      throw unprocessable('value', 'UNEXPECTED_FIELD', `'${key.slice(0, 40)}' is not expected`);
  const status = body.status;
  if (status === undefined) throw missing('status');
  if (status !== 'booked' && status !== 'proposed' && status !== 'cancelled')
    throw unprocessable(
      'code-invalid',
      'INVALID_CODE',
      "'status' must be 'booked', 'proposed' or 'cancelled'",
    );
  if (body.description !== undefined && body.description !== APPOINTMENT_DESCRIPTION)
    throw invalid(`'description' must be '${APPOINTMENT_DESCRIPTION}'`);
  for (const t of ['start', 'end'] as const)
    if (
      body[t] !== undefined &&
      (typeof body[t] !== 'string' || !Number.isFinite(Date.parse(body[t])))
    )
      throw invalid(`'${t}' must be a dateTime`);
  if (
    body.comment !== undefined &&
    (typeof body.comment !== 'string' || body.comment.length > 2000)
  )
    throw invalid("'comment' must be a string of at most 2000 characters");
  const { ubrn, version } = incomingReferral(body.incomingReferral);
  const people = participantsOf(body.participant);
  return {
    status,
    ubrn,
    referralVersion: version,
    ...people,
    ...slotOf(body.slot),
    ...reasonOf(body.reason),
    ...(body.comment ? { comment: body.comment } : {}),
  };
}

function incomingReferral(value: unknown): { ubrn: string; version: number } {
  if (value === undefined || (Array.isArray(value) && value.length === 0))
    throw missing('incomingReferral');
  if (!Array.isArray(value) || value.length !== 1 || !isObject(value[0]))
    throw structure("'incomingReferral' must hold one reference");
  const ref = value[0].reference;
  const m =
    typeof ref === 'string'
      ? /^ReferralRequest\/([0-9]{12})\/_history\/([1-9][0-9]{0,8})$/.exec(ref)
      : null;
  if (!m || !UBRN_PATTERN.test(m[1]))
    throw invalid("'incomingReferral' must reference ReferralRequest/<ubrn>/_history/<version>");
  return { ubrn: m[1], version: Number(m[2]) };
}

function participantsOf(value: unknown): {
  service: string;
  nhsNumber: string;
  clinician?: string;
} {
  if (value === undefined) throw missing('participant');
  if (!Array.isArray(value) || value.length < 2 || value.length > 3 || !value.every(isObject))
    throw structure(
      "'participant' must hold the service, the patient and optionally the clinician",
    );
  let service: string | undefined, nhsNumber: string | undefined, clinician: string | undefined;
  value.forEach((p, i) => {
    const id = p.actor?.identifier;
    if (!isObject(id) || typeof id.value !== 'string')
      throw invalid(`'participant[${i}].actor.identifier' is required`);
    if (p.status !== undefined && p.status !== 'accepted')
      throw invalid(`'participant[${i}].status' must be 'accepted'`);
    if (id.system === ERS_SERVICE_SYSTEM && service === undefined && SERVICE_ID.test(id.value))
      service = id.value;
    else if (
      id.system === NHS_NUMBER_SYSTEM_STU3 &&
      nhsNumber === undefined &&
      /^[0-9]{10}$/.test(id.value)
    )
      nhsNumber = id.value;
    else if (id.system === SDS_USER_SYSTEM && clinician === undefined && SDS_ID.test(id.value)) {
      const code = p.type?.coding?.[0];
      if (!isObject(code) || code.system !== CLINICIAN_TYPE_SYSTEM || code.code !== 'CON')
        throw invalid(`'participant[${i}].type' must be ${CLINICIAN_TYPE_SYSTEM}#CON`);
      clinician = id.value;
    } else throw invalid(`'participant[${i}]' is not a service, patient or clinician participant`);
  });
  if (!service) throw missing('participant (service)');
  if (!nhsNumber) throw missing('participant (patient)');
  return { service, nhsNumber, ...(clinician ? { clinician } : {}) };
}

function slotOf(value: unknown): { slot?: string } {
  if (value === undefined || (Array.isArray(value) && value.length === 0)) return {};
  if (!Array.isArray(value) || value.length !== 1 || !isObject(value[0]))
    throw structure("'slot' must hold one reference");
  const ref = value[0].reference;
  const id = typeof ref === 'string' && ref.startsWith('Slot/') ? ref.slice(5) : '';
  if (!SLOT_ID_PATTERN.test(id)) throw invalid("'slot' must reference Slot/<id>");
  return { slot: id };
}

function reasonOf(value: unknown): { reason?: Coding } {
  if (value === undefined) return {};
  const coding = Array.isArray(value) && isObject(value[0]) ? value[0].coding : undefined;
  const c = Array.isArray(coding) && coding.length === 1 ? coding[0] : undefined;
  if (!isObject(c) || typeof c.system !== 'string' || typeof c.code !== 'string')
    throw structure("'reason' must hold one coding with a system and a code");
  return { reason: { system: c.system, code: c.code } };
}

/** The review reasons a deferral may give (eRS-ReviewReason-1 in eRS-Appointment.yaml). */
export const DEFERRAL_REASONS = [
  'NO_SLOTS_AT_SERVICE',
  'SLOT_NOT_AVAILABLE',
  'BOOKING_ATTEMPT_PROBLEM',
  'TRIAGE',
];

/** The deferral's reason: required, eRS-ReviewReason-1, one of DEFERRAL_REASONS. */
export function deferralReason(request: AppointmentRequest): string {
  if (!request.reason) throw missing('reason');
  if (
    request.reason.system !== REVIEW_REASON_SYSTEM ||
    !DEFERRAL_REASONS.includes(request.reason.code)
  )
    throw unprocessable(
      'code-invalid',
      'INVALID_CODE',
      `'reason' must be one of ${DEFERRAL_REASONS.join(', ')} (${REVIEW_REASON_SYSTEM})`,
    );
  return request.reason.code;
}

/**
 * The APPOINTMENT-CANCELLATION-REASON codes a referrer may cancel with (usage CANCEL, business
 * function REFERRING_CLINICIAN / _ADMIN in the published
 * sandbox/src/mocks/stu3/getCodeSystem/responses/AppointmentCancellationReasonCodeSystem.json),
 * and whether each needs a comment (commentIsMandatory).
 */
export const REFERRER_APPOINTMENT_CANCELLATIONS: Record<string, { commentIsMandatory: boolean }> = {
  PATIENT_APPOINTMENT_CANCELLATION_OTHER: { commentIsMandatory: true },
  PATIENT_HOLIDAY: { commentIsMandatory: false },
  PATIENT_ILL: { commentIsMandatory: false },
  PATIENT_OTHER_ENGAGEMENT: { commentIsMandatory: true },
};
/** a034's cancellation reason, as the published sandbox answers each wrong one. */
export function appointmentCancellation(request: AppointmentRequest): Coding {
  const reason = request.reason;
  if (!reason) throw missing('reason');
  if (!reason.system.endsWith('/STU3/CodeSystem/APPOINTMENT-CANCELLATION-REASON'))
    throw invalid("'reason' must be coded in APPOINTMENT-CANCELLATION-REASON");
  const rule = Object.hasOwn(REFERRER_APPOINTMENT_CANCELLATIONS, reason.code)
    ? REFERRER_APPOINTMENT_CANCELLATIONS[reason.code]
    : undefined;
  // any other code is answered as the sandbox answers one (INTEND_PRIVATE, CancellationInvalidReason)
  if (!rule)
    throw unprocessable(
      'business-rule',
      'INAPPROPRIATE_VALUE',
      "'reason' The reason provided is not valid in this case",
    );
  if (rule.commentIsMandatory && !request.comment) throw missing('comment');
  return reason;
}

export interface ActionLaterRequest {
  comments: string;
  priority?: { system: string; code: ErsPriority };
  cancelledInPas?: boolean;
}

/** a022's eRS-cancelAppointmentActionLater-Parameters body. */
export function parseActionLater(body: unknown): ActionLaterRequest {
  if (
    !isObject(body) ||
    body.resourceType !== 'Parameters' ||
    !Array.isArray(body.parameter) ||
    !body.parameter.every(isObject)
  )
    throw structure('the body must be a Parameters resource with an array of parameters');
  const params = body.parameter as Record<string, any>[];
  const known = ['comments', 'priority', 'appointmentCancelledInPAS', 'providerAttachmentFile'];
  params.forEach((p, i) => {
    if (!known.includes(p.name))
      throw unprocessable(
        'value',
        'UNEXPECTED_FIELD',
        `'parameter[${i}]' (${String(p.name).slice(0, 40)}) unknown parameter name`,
      );
  });
  for (const name of ['comments', 'priority', 'appointmentCancelledInPAS'])
    if (params.filter((p) => p.name === name).length > 1)
      throw structure(`'${name}' may be given only once`);
  if (params.some((p) => p.name === 'providerAttachmentFile'))
    throw unprocessable(
      'business-rule',
      'INAPPROPRIATE_VALUE',
      "'providerAttachmentFile' is not accepted by this server yet",
    );
  const comments = params.find((p) => p.name === 'comments')?.valueString;
  if (comments === undefined) throw missing('comments');
  if (typeof comments !== 'string' || comments.trim() === '' || comments.length > 2000)
    throw invalid("'comments' must be a string of 1 to 2000 characters");
  const coding = params.find((p) => p.name === 'priority')?.valueCoding;
  let priority: ActionLaterRequest['priority'];
  if (coding !== undefined) {
    if (
      !isObject(coding) ||
      coding.system !== PRIORITY_SYSTEM ||
      !(ERS_PRIORITIES as readonly string[]).includes(coding.code)
    )
      throw unprocessable(
        'code-invalid',
        'INVALID_CODE',
        `'priority' must be one of ${ERS_PRIORITIES.join(', ')} (${PRIORITY_SYSTEM})`,
      );
    priority = { system: PRIORITY_SYSTEM, code: coding.code };
  }
  const pas = params.find((p) => p.name === 'appointmentCancelledInPAS');
  if (pas && typeof pas.valueBoolean !== 'boolean')
    throw invalid("'appointmentCancelledInPAS' must be a boolean");
  return {
    comments,
    ...(priority ? { priority } : {}),
    ...(pas ? { cancelledInPas: pas.valueBoolean } : {}),
  };
}
