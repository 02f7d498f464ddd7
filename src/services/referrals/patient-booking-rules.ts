/**
 * What a patient's booking request must carry, checked without the store (OpenSpine's patient
 * routes): the slot search's query (a shortlisted service, a page), and the Parameters bodies of
 * booking (password, service, slot), changing (password, slot) and cancelling (password, reason,
 * comments) their appointment. A slot is named as a016 names it (a `Slot/<id>` reference); the
 * reasons a patient may give are the published APPOINTMENT-CANCELLATION-REASON codes whose reason
 * type is PATIENT and that are still in use (AppointmentCancellationReasonCodeSystem.json).
 */
import type { Coding } from './appointment-model.js';
import { ersError } from './ers-errors.js';
import { invalid, missing, type Parameter } from './ers-parameters.js';
import { patientParameters, patientPassword } from './patient-rules.js';
import { APPOINTMENT_CANCELLATION_REASONS } from './reference-data-published.js';
import { SLOT_ID_PATTERN } from './slot-model.js';

const SERVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;
const MAX_COMMENTS = 2000;
export const APPOINTMENT_CANCELLATION_SYSTEM =
  'https://fhir.nhs.uk/STU3/CodeSystem/APPOINTMENT-CANCELLATION-REASON';

/** The patient's own reasons for cancelling an appointment, and whether each needs a comment. */
export const PATIENT_APPOINTMENT_CANCELLATIONS: ReadonlyMap<string, boolean> = new Map(
  APPOINTMENT_CANCELLATION_REASONS.filter((r) => r.type === 'PATIENT' && !r.to).map((r) => [
    r.code,
    r.commentIsMandatory,
  ]),
);

const badQuery = (why: string) => ersError(400, 'value', 'INVALID_VALUE', why);

export interface PatientSlotQuery {
  service: string;
  page: number;
  count: number;
}

/** `service` (required), `page` (from 1) and `_count` (1 to MAX_PAGE_SIZE), each given once. */
export function parsePatientSlotQuery(query: Record<string, unknown>): PatientSlotQuery {
  for (const name of Object.keys(query))
    if (!['service', 'page', '_count'].includes(name))
      throw badQuery(`'${name.slice(0, 40)}' is not a known search parameter`);
  const one = (name: string): string | undefined => {
    const v = query[name];
    if (v !== undefined && typeof v !== 'string')
      throw badQuery(`'${name}' may be given only once`);
    return v;
  };
  const service = one('service');
  if (service === undefined || service === '')
    throw ersError(400, 'required', 'MISSING_PARAMETER', "'service' search parameter is required");
  if (!SERVICE_ID.test(service)) throw badQuery(`'service' (${service.slice(0, 20)}) is invalid.`);
  const positive = (name: string, fallback: number, max?: number): number => {
    const v = one(name);
    if (v === undefined) return fallback;
    const n = /^[0-9]{1,9}$/.test(v) ? Number(v) : NaN;
    if (!(n >= 1) || (max !== undefined && n > max))
      throw badQuery(`'${name}' (${v.slice(0, 20)}) is invalid.`);
    return n;
  };
  return {
    service,
    page: positive('page', 1),
    count: positive('_count', DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE),
  };
}

/** The slot named by a `slot` parameter's valueReference (Slot/<id>). */
function slotOf(params: Parameter[]): string {
  const p = params.find((x) => x.name === 'slot');
  if (!p) throw missing('slot');
  const ref = (p.valueReference as { reference?: unknown } | undefined)?.reference;
  const id = typeof ref === 'string' && ref.startsWith('Slot/') ? ref.slice(5) : '';
  if (!SLOT_ID_PATTERN.test(id)) throw invalid("'slot' must be a valueReference to Slot/<id>");
  return id;
}

export interface PatientBookingRequest {
  password: string;
  service: string;
  slot: string;
}

/** Booking: password, service (valueString: the service id) and slot (valueReference). */
export function parsePatientBooking(body: unknown): PatientBookingRequest {
  const params = patientParameters(body, ['password', 'service', 'slot']);
  const password = patientPassword(params);
  const p = params.find((x) => x.name === 'service');
  if (!p) throw missing('service');
  if (typeof p.valueString !== 'string' || !SERVICE_ID.test(p.valueString))
    throw invalid("'service' must be a valueString holding an e-RS service id");
  return { password, service: p.valueString, slot: slotOf(params) };
}

/** Changing the appointment: password and the new slot. */
export function parsePatientMove(body: unknown): { password: string; slot: string } {
  const params = patientParameters(body, ['password', 'slot']);
  return { password: patientPassword(params), slot: slotOf(params) };
}

export interface PatientAppointmentCancel {
  password: string;
  reason: Coding;
  comments?: string;
}

/** Cancelling the appointment: password, reason (a patient's APPOINTMENT-CANCELLATION-REASON), comments. */
export function parsePatientAppointmentCancel(body: unknown): PatientAppointmentCancel {
  const params = patientParameters(body, ['password', 'reason', 'comments']);
  const password = patientPassword(params);
  const p = params.find((x) => x.name === 'reason');
  if (!p) throw missing('reason');
  const reason = p.valueCoding as { system?: unknown; code?: unknown } | undefined;
  const code = reason && typeof reason === 'object' ? reason.code : undefined;
  if (
    !reason ||
    typeof reason !== 'object' ||
    reason.system !== APPOINTMENT_CANCELLATION_SYSTEM ||
    typeof code !== 'string' ||
    !PATIENT_APPOINTMENT_CANCELLATIONS.has(code)
  )
    throw ersError(
      422,
      'code-invalid',
      'INVALID_CODE',
      `'reason' must be one of ${[...PATIENT_APPOINTMENT_CANCELLATIONS.keys()].join(', ')} (APPOINTMENT-CANCELLATION-REASON)`,
    );
  const given = params.find((x) => x.name === 'comments');
  const comments = given?.valueString;
  if (given && (typeof comments !== 'string' || comments.length > MAX_COMMENTS))
    throw invalid(`'comments' must be a string of at most ${MAX_COMMENTS} characters`);
  if (
    PATIENT_APPOINTMENT_CANCELLATIONS.get(code) &&
    !(typeof comments === 'string' && comments.trim())
  )
    throw missing('comments');
  return {
    password,
    reason: { system: APPOINTMENT_CANCELLATION_SYSTEM, code },
    ...(typeof comments === 'string' && comments ? { comments } : {}),
  };
}
