/**
 * What an e-Referral request must carry, checked without the store: the published request headers
 * and the Parameters bodies of $ers.createReferral (eRS-CreateReferral-Parameters) and
 * $ers.cancelReferral (eRS-CancelReferral-Request-Parameters). Refusals in eRS's words.
 */
import {
  ERS_BUSINESS_FUNCTIONS,
  roleGrantsBusinessFunction,
  type Activity,
} from '../../security/policy.js';
import type { Principal } from '../../security/principal.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { ersError } from './ers-errors.js';
import {
  badCode,
  invalid,
  knownParameters,
  missing,
  structure,
  type KnownParameters,
  type Parameter,
} from './ers-parameters.js';
import { REFERRAL_CANCELLATION_REASONS } from './reference-data-published.js';
import {
  ERS_SERVICE_SYSTEM,
  NHS_NUMBER_SYSTEM_STU3,
  PRIORITY_SYSTEM,
  UBRN_PATTERN,
} from './referral-model.js';

export const BUSINESS_FUNCTION_HEADER = 'nhsd-ers-business-function';
export const ODS_HEADER = 'nhsd-end-user-organisation-ods';
export const OBO_HEADER = 'nhsd-ers-on-behalf-of-user-id';
const SPCA = 'SERVICE_PROVIDER_CLINICIAN_ADMIN';
/** The most services a shortlist may hold (a011: "The maximum amount of services ... is 20"). */
export const MAX_SHORTLIST = 20;

/** Who is asking, as the headers say. */
export interface ErsCaller {
  businessFunction: string;
  ods: string;
  onBehalfOf?: string;
}

type Headers = Record<string, string | string[] | undefined>;

const header = (headers: Headers, name: string): string | undefined => {
  const v = headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s.trim() === '' ? undefined : s.trim();
};

const missingHeader = (name: string) =>
  ersError(400, 'required', 'MISSING_HEADER', `Missing or Empty ${name} header.`);

const NO_FUNCTION =
  'User does not have the required Business Function at the specified Organisation.';

/**
 * The caller's business function and organisation from the headers: both required (400
 * MISSING_HEADER, as the live proxy words it); the function must be one eRS publishes and allow
 * `activity` and be one the token's role may act in (roleGrantsBusinessFunction), at the
 * organisation the token is for (403 NO_ACCESS, as the proxy's
 * SetOperationOutcomeInvalidBusinessFunction words it). The On-Behalf-Of user ID goes with
 * SERVICE_PROVIDER_CLINICIAN_ADMIN and only with it, on the operations that publish the header.
 */
export function parseErsCaller(
  headers: Headers,
  activity: Activity,
  principal: Pick<Principal, 'org' | 'role'> | undefined,
  oboAllowed: boolean,
): ErsCaller {
  const ods = header(headers, ODS_HEADER);
  if (!ods) throw missingHeader('NHSD-End-User-Organisation-ODS');
  const businessFunction = header(headers, BUSINESS_FUNCTION_HEADER);
  if (!businessFunction) throw missingHeader('NHSD-eRS-Business-Function');
  const allowed = Object.hasOwn(ERS_BUSINESS_FUNCTIONS, businessFunction)
    ? ERS_BUSINESS_FUNCTIONS[businessFunction]
    : [];
  if (
    !allowed.includes(activity) ||
    ods !== principal?.org ||
    !roleGrantsBusinessFunction(principal.role, businessFunction)
  )
    throw ersError(403, 'forbidden', 'NO_ACCESS', NO_FUNCTION);
  const onBehalfOf = header(headers, OBO_HEADER);
  if (onBehalfOf !== undefined && (!oboAllowed || businessFunction !== SPCA))
    throw ersError(
      403,
      'forbidden',
      'NO_ACCESS',
      'An On-Behalf-Of User ID may only be given with the SERVICE_PROVIDER_CLINICIAN_ADMIN Business Function',
    );
  if (oboAllowed && businessFunction === SPCA && onBehalfOf === undefined)
    throw missingHeader('NHSD-eRS-On-Behalf-Of-User-ID');
  return { businessFunction, ods, ...(onBehalfOf ? { onBehalfOf } : {}) };
}

export function parseUbrn(ubrn: string): string {
  if (!UBRN_PATTERN.test(ubrn))
    throw ersError(
      400,
      'value',
      'INVALID_VALUE',
      `'${ubrn.slice(0, 20)}' is not a UBRN (12 digits)`,
    );
  return ubrn;
}

export function parseVersion(version: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(version))
    throw ersError(
      400,
      'value',
      'INVALID_VALUE',
      `'${version.slice(0, 20)}' is not a version number`,
    );
  return Number(version);
}

export type { Parameter } from './ers-parameters.js';

export interface CreateReferralRequest {
  nhsNumber: string;
  /** The shortlist List as given, and its service ids in order. */
  shortlist: Record<string, unknown>;
  serviceIds: string[];
  priority?: { system: string; code: string };
  pathwayStart?: string;
  /** Published parameters kept as sent. */
  extra: Parameter[];
}

const CREATE_PARAMS = [
  'patient',
  'shortlist',
  'intentionToAddReferralLetter',
  'firstReminderLetterFollowUpDays',
  'eReferralPathwayStart',
  'referringClinician',
] as const;

/**
 * The `shortlist` parameter (eRS-Shortlist-List-1) of a create or a shortlist change: a List of
 * 1-20 services named by e-RS service id, none twice. The List is kept as given.
 */
export function parseShortlist(shortlistParam: Parameter | undefined): {
  list: Record<string, unknown>;
  serviceIds: string[];
  /** The priority of its search criteria, when given. */
  priority?: { system: string; code: string };
} {
  if (!shortlistParam) throw missing('shortlist');
  const list = shortlistParam.resource as Record<string, unknown> | undefined;
  if (!list || typeof list !== 'object' || Array.isArray(list) || list.resourceType !== 'List')
    throw structure("'shortlist' must carry a List resource");
  const entries = list.entry;
  if (!Array.isArray(entries) || entries.length === 0)
    throw ersError(
      422,
      'required',
      'MISSING_VALUE',
      'the shortlist must name at least one service',
    );
  if (entries.length > MAX_SHORTLIST)
    throw ersError(
      422,
      'value',
      'TOO_MANY_ITEMS',
      `a shortlist may hold at most ${MAX_SHORTLIST} services; ${entries.length} were given`,
    );
  const serviceIds = entries.map((e: unknown, i: number) => {
    const ident = (e as { item?: { identifier?: { system?: unknown; value?: unknown } } } | null)
      ?.item?.identifier;
    if (
      !ident ||
      ident.system !== ERS_SERVICE_SYSTEM ||
      typeof ident.value !== 'string' ||
      !/^[A-Za-z0-9._-]{1,64}$/.test(ident.value)
    )
      throw invalid(
        `shortlist entry[${i}] must name a service by identifier (${ERS_SERVICE_SYSTEM})`,
      );
    return ident.value;
  });
  if (new Set(serviceIds).size !== serviceIds.length)
    throw ersError(422, 'value', 'DUPLICATE_SERVICE', 'Unique service value expected.');
  return { list, serviceIds, priority: priorityOf(list) };
}

/** $ers.createReferral's body (eRS-CreateReferral-Parameters). */
export function parseCreateReferral(body: unknown, now: Date): CreateReferralRequest {
  const p = knownParameters(body, CREATE_PARAMS);
  const patient = p.one('patient');
  if (!patient) throw missing('patient');
  const id = patient.valueIdentifier as { system?: unknown; value?: unknown } | undefined;
  if (!id || typeof id !== 'object' || id.system !== NHS_NUMBER_SYSTEM_STU3)
    throw invalid(`'patient' must be a valueIdentifier with system ${NHS_NUMBER_SYSTEM_STU3}`);
  if (!isValidNhsNumber(id.value))
    throw invalid(`'patient' value '${String(id.value).slice(0, 20)}' is not a valid NHS Number`);
  const { list, serviceIds } = parseShortlist(p.one('shortlist'));
  const start = p.one('eReferralPathwayStart')?.valueInstant;
  let pathwayStart: string | undefined;
  if (start !== undefined) {
    const t = typeof start === 'string' ? Date.parse(start) : NaN;
    if (!Number.isFinite(t) || !/^\d{4}-\d{2}-\d{2}T/.test(String(start)))
      throw invalid("'eReferralPathwayStart' must be an instant");
    const ageDays = (now.getTime() - t) / 86_400_000;
    if (ageDays < 0 || ageDays > 365)
      throw ersError(
        422,
        'value',
        'INAPPROPRIATE_VALUE',
        "'eReferralPathwayStart' must be in the past and no longer than 365 days ago",
      );
    pathwayStart = String(start);
  }
  return {
    nhsNumber: id.value as string,
    shortlist: list,
    serviceIds,
    priority: priorityOf(list),
    pathwayStart,
    extra: p.list.filter((x) => x.name !== 'patient' && x.name !== 'shortlist'),
  };
}

/** The priority in the shortlist's contained search criteria, when given. */
function priorityOf(list: Record<string, unknown>): { system: string; code: string } | undefined {
  const contained = Array.isArray(list.contained) ? list.contained : [];
  for (const c of contained as { parameter?: Parameter[] }[]) {
    const coding = c?.parameter?.find?.((p) => p?.name === 'priority')?.valueCoding as
      { system?: unknown; code?: unknown } | undefined;
    if (coding && coding.system === PRIORITY_SYSTEM && typeof coding.code === 'string')
      return { system: PRIORITY_SYSTEM, code: coding.code };
  }
  return undefined;
}

/**
 * The REFERRAL-CANCELLATION-REASON codes a referrer may give (referrerUsage CANCEL_REFERRAL with
 * business function REFERRING_CLINICIAN / _ADMIN in the published
 * sandbox/src/mocks/stu3/getCodeSystem/responses/ReferralCancellationReasonCodeSystem.json).
 */
/** The referral cancellation reasons the published code system marks commentIsMandatory. */
const COMMENT_MANDATORY = new Set(
  REFERRAL_CANCELLATION_REASONS.filter((r) => r.commentIsMandatory).map((r) => r.code),
);

export const REFERRER_CANCELLATION_REASONS = [
  'INTEND_PRIVATE',
  'PATIENT_DIED',
  'PATIENT_REQUEST_CANCELLATION_OTHER',
  'RAISED_IN_ERROR',
  'REFERRER_CANCELLATION',
  'TREATMENT_NO_LONGER_REQUIRED',
] as const;

export interface CancelReferralRequest {
  reason: { system: string; code: string };
  comments?: string;
}

/** $ers.cancelReferral's body (eRS-CancelReferral-Request-Parameters). */
/** The provider business functions (a036 cancels with the provider's reasons for them). */
export const PROVIDER_FUNCTIONS: readonly string[] = ['SERVICE_PROVIDER_CLINICIAN', SPCA];

/**
 * The reasons a provider business function may cancel a referral with (a036 scenarios 3-5): those
 * the published code system gives the function for CANCEL_REFERRAL. Whether one fits the referral
 * (PROVIDER_TRIAGE reasons for a referral awaiting triage, PROVIDER and PATIENT ones otherwise) is
 * `providerReasonFits`, once the referral is read.
 */
export const providerCancellationReasons = (fn: string): string[] =>
  REFERRAL_CANCELLATION_REASONS.filter(
    (r) => r.cancelReferral && r.providerFunctions.includes(fn),
  ).map((r) => r.code);

/** Whether a provider's cancellation `reason` is one for a referral in this state (a036). */
export function providerReasonFits(reason: string, awaitingTriage: boolean): boolean {
  const type = REFERRAL_CANCELLATION_REASONS.find((r) => r.code === reason)?.type;
  return awaitingTriage ? type === 'PROVIDER_TRIAGE' : type === 'PROVIDER' || type === 'PATIENT';
}

export function parseCancelReferral(
  body: unknown,
  businessFunction: string,
): CancelReferralRequest {
  const p = knownParameters(body, ['cancellationReason', 'cancellationComments']);
  const allowed = PROVIDER_FUNCTIONS.includes(businessFunction)
    ? providerCancellationReasons(businessFunction)
    : REFERRER_CANCELLATION_REASONS;
  const { reason, comments } = cancellationOf(p, allowed);
  // "A comment on the cancellation is conditionally mandatory depending on the reason" (a036)
  if (COMMENT_MANDATORY.has(reason.code) && !comments?.trim())
    throw ersError(
      422,
      'required',
      'MISSING_VALUE',
      `'cancellationComments' is required with the reason ${reason.code}`,
    );
  return { reason, ...(comments ? { comments } : {}) };
}

/**
 * A cancellation's `cancellationReason` (a REFERRAL-CANCELLATION-REASON coding, one of `allowed`)
 * and `cancellationComments` (at most 2000 characters), as the referrer and the patient give them.
 */
export function cancellationOf(
  p: KnownParameters,
  allowed: readonly string[],
): { reason: { system: string; code: string }; comments?: string } {
  const reason = p.one('cancellationReason')?.valueCoding as
    { system?: unknown; code?: unknown } | undefined;
  if (!reason) throw missing('cancellationReason');
  if (
    typeof reason !== 'object' ||
    typeof reason.system !== 'string' ||
    !reason.system.endsWith('/STU3/CodeSystem/REFERRAL-CANCELLATION-REASON') ||
    typeof reason.code !== 'string' ||
    !allowed.includes(reason.code)
  )
    throw badCode(
      `'cancellationReason' must be one of ${allowed.join(', ')} (REFERRAL-CANCELLATION-REASON)`,
    );
  const comments = p.one('cancellationComments')?.valueString;
  if (comments !== undefined && (typeof comments !== 'string' || comments.length > 2000))
    throw invalid("'cancellationComments' must be a string of at most 2000 characters");
  return { reason: { system: reason.system, code: reason.code }, comments };
}

/** If-Match on $ers.cancelReferral (required, W/"<version>", a036's IfMatch.yaml); 412 otherwise. */
export function parseErsIfMatch(value: string | string[] | undefined): number {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '')
    throw ersError(412, 'required', 'MISSING_VALUE', 'If-Match header is required: W/"<version>"');
  const m = /^W\/"([1-9][0-9]{0,8})"$/.exec(v.trim());
  if (!m)
    throw ersError(
      412,
      'value',
      'INVALID_VALUE',
      'If-Match header must be of the form W/"<version>"',
    );
  return Number(m[1]);
}
