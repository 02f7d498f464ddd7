/**
 * What a patient's request must carry, checked without the store: the password of their letter
 * (a `password` valueString in a Parameters body, the way every patient action presents it) and,
 * to cancel, one of the REFERRAL-CANCELLATION-REASON codes whose reason type is PATIENT (published
 * sandbox/src/mocks/stu3/getCodeSystem/responses/ReferralCancellationReasonCodeSystem.json; a
 * patient does not report their own death, so PATIENT_DIED is the referrer's).
 */
import { invalid, knownParameters, missing, type Parameter } from './ers-parameters.js';
import { cancellationOf } from './referral-rules.js';

export const PATIENT_CANCELLATION_REASONS = [
  'INTEND_PRIVATE',
  'PATIENT_REQUEST_CANCELLATION_OTHER',
  'TREATMENT_NO_LONGER_REQUIRED',
] as const;
/** commentIsMandatory in the published code system. */
const COMMENT_MANDATORY = ['PATIENT_REQUEST_CANCELLATION_OTHER'];
const MAX_PASSWORD = 100;

/** The parameters of a patient's Parameters body, each name one of `known` and given once. */
export const patientParameters = (body: unknown, known: readonly string[]): Parameter[] =>
  knownParameters(body, known).list;

/** The `password` a patient presents (required, a non-empty string). */
export function patientPassword(params: Parameter[]): string {
  const p = params.find((x) => x.name === 'password');
  if (!p) throw missing('password');
  const value = p.valueString;
  if (typeof value !== 'string' || value.trim() === '' || value.length > MAX_PASSWORD)
    throw invalid(`'password' must be the password printed on the referral letter`);
  return value;
}

export interface PatientCancelRequest {
  password: string;
  reason: { system: string; code: string };
  comments?: string;
}

/** A patient's cancellation of their referral: password, cancellationReason, cancellationComments. */
export function parsePatientCancel(body: unknown): PatientCancelRequest {
  const p = knownParameters(body, ['password', 'cancellationReason', 'cancellationComments']);
  const password = patientPassword(p.list);
  const { reason, comments } = cancellationOf(p, PATIENT_CANCELLATION_REASONS);
  if (COMMENT_MANDATORY.includes(reason.code) && !(typeof comments === 'string' && comments.trim()))
    throw missing('cancellationComments');
  return { password, reason, ...(comments ? { comments } : {}) };
}
