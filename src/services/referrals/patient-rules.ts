/**
 * What a patient's request must carry, checked without the store: the password of their letter
 * (a `password` valueString in a Parameters body, the way every patient action presents it) and,
 * to cancel, one of the REFERRAL-CANCELLATION-REASON codes whose reason type is PATIENT (published
 * sandbox/src/mocks/stu3/getCodeSystem/responses/ReferralCancellationReasonCodeSystem.json; a
 * patient does not report their own death, so PATIENT_DIED is the referrer's).
 */
import { ersError } from './ers-errors.js';

export const PATIENT_CANCELLATION_REASONS = [
  'INTEND_PRIVATE',
  'PATIENT_REQUEST_CANCELLATION_OTHER',
  'TREATMENT_NO_LONGER_REQUIRED',
] as const;
/** commentIsMandatory in the published code system. */
const COMMENT_MANDATORY = ['PATIENT_REQUEST_CANCELLATION_OTHER'];
const MAX_PASSWORD = 100;
const MAX_COMMENTS = 2000;

type Parameter = { name?: unknown; [value: string]: unknown };

const structure = (why: string) => ersError(422, 'structure', 'INVALID_FHIR_STRUCTURE', why);
const missing = (name: string) =>
  ersError(422, 'required', 'MISSING_VALUE', `'${name}' parameter is required`);
const invalid = (why: string) => ersError(422, 'value', 'INVALID_VALUE', why);

/** The parameters of a patient's Parameters body, each name one of `known` and given once. */
export function patientParameters(body: unknown, known: readonly string[]): Parameter[] {
  const b = body as { resourceType?: unknown; parameter?: unknown } | null;
  if (!b || typeof b !== 'object' || Array.isArray(b) || b.resourceType !== 'Parameters')
    throw structure('the body must be a Parameters resource');
  if (!Array.isArray(b.parameter) || b.parameter.some((p) => !p || typeof p !== 'object'))
    throw structure('Parameters.parameter must be an array of parameters');
  const params = b.parameter as Parameter[];
  params.forEach((p, i) => {
    if (typeof p.name !== 'string' || !known.includes(p.name))
      throw ersError(
        422,
        'value',
        'UNEXPECTED_FIELD',
        `'parameter[${i}]' (${String(p.name).slice(0, 40)}) unknown parameter name`,
      );
  });
  for (const name of known)
    if (params.filter((p) => p.name === name).length > 1)
      throw structure(`'${name}' parameter may be given only once`);
  return params;
}

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
  const params = patientParameters(body, [
    'password',
    'cancellationReason',
    'cancellationComments',
  ]);
  const password = patientPassword(params);
  const reason = params.find((p) => p.name === 'cancellationReason')?.valueCoding as
    { system?: unknown; code?: unknown } | undefined;
  if (!reason) throw missing('cancellationReason');
  if (
    typeof reason !== 'object' ||
    typeof reason.system !== 'string' ||
    !reason.system.endsWith('/STU3/CodeSystem/REFERRAL-CANCELLATION-REASON') ||
    typeof reason.code !== 'string' ||
    !(PATIENT_CANCELLATION_REASONS as readonly string[]).includes(reason.code)
  )
    throw ersError(
      422,
      'code-invalid',
      'INVALID_CODE',
      `'cancellationReason' must be one of ${PATIENT_CANCELLATION_REASONS.join(', ')} (REFERRAL-CANCELLATION-REASON)`,
    );
  const comments = params.find((p) => p.name === 'cancellationComments')?.valueString;
  if (comments !== undefined && (typeof comments !== 'string' || comments.length > MAX_COMMENTS))
    throw invalid(`'cancellationComments' must be a string of at most ${MAX_COMMENTS} characters`);
  if (COMMENT_MANDATORY.includes(reason.code) && !(typeof comments === 'string' && comments.trim()))
    throw missing('cancellationComments');
  return {
    password,
    reason: { system: reason.system, code: reason.code },
    ...(comments ? { comments } : {}),
  };
}
