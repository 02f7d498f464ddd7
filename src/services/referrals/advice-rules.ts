/**
 * What an advice and guidance request must carry, checked without the store: the business
 * functions each operation publishes, and the Parameters bodies of $ers.createAdviceAndGuidance
 * (eRS-CreateAdviceAndGuidance-Request-Parameters), $ers.sendCommunicationToRequester
 * (eRS-SendCommunicationToRequester-Request-Parameters), $ers.createFromCommunicationRequestActionLater
 * (eRS-CreateFromCommunicationRequestActionLater-Request-Parameters). Refusals in eRS's words
 * (advice-parameters.ts); the reads' inputs are advice-read-rules.ts.
 */
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { ersError } from './ers-errors.js';
import {
  attachment,
  coding,
  priority,
  PRIORITIES,
  text,
  type AttachmentRef,
} from './advice-parameters.js';
import {
  badCode,
  invalid,
  isObject,
  knownParameters,
  missing,
  structure,
  type Parameter,
} from './ers-parameters.js';
import { parseRequestVersion } from './advice-read-rules.js';
import { CONVERSION_SYSTEM, SDS_USER_SYSTEM, type AdviceConversion } from './advice-model.js';
import type { ErsCaller } from './referral-rules.js';
import { ERS_SERVICE_SYSTEM, NHS_NUMBER_SYSTEM_STU3, PRIORITY_SYSTEM } from './referral-model.js';

const RC = 'REFERRING_CLINICIAN';
const RCA = 'REFERRING_CLINICIAN_ADMIN';
const SPC = 'SERVICE_PROVIDER_CLINICIAN';
const SPCA = 'SERVICE_PROVIDER_CLINICIAN_ADMIN';

/** The business functions each A&G operation publishes (its Pre-requisites and sandbox route). */
export const ADVICE_FUNCTIONS = {
  create: [RC, RCA],
  worklist: [SPC, 'SERVICE_PROVIDER_ADMIN', SPCA],
  read: [RC, RCA, SPC, SPCA],
  respond: [SPC, SPCA],
  convert: [SPC, SPCA],
} as const;
export type AdviceOperation = keyof typeof ADVICE_FUNCTIONS;

/** 403 NO_ACCESS (the live proxy's words) unless the operation publishes the caller's function. */
export function requirePublishedFunction(caller: ErsCaller, op: AdviceOperation): void {
  if (!(ADVICE_FUNCTIONS[op] as readonly string[]).includes(caller.businessFunction))
    throw ersError(
      403,
      'forbidden',
      'NO_ACCESS',
      'User does not have the required Business Function at the specified Organisation.',
    );
}

/** The search criteria a shortlist carries (contained eRS-ServiceSearchCriteria-Parameters). */
export interface SearchCriteria {
  priority?: string;
  specialty?: string;
  clinicType?: string;
}

export interface CreateAdviceRequest {
  nhsNumber: string;
  conversion: AdviceConversion;
  /** The shortlist List as given, its one service and its search criteria. */
  shortlist: Record<string, any>;
  serviceId: string;
  criteria: SearchCriteria;
  request: string;
  referringClinician?: string;
  attachments: AttachmentRef[];
}

const CREATE_PARAMS = [
  'patient',
  'providerConversionAuthorisation',
  'shortlist',
  'request',
  'referringClinician',
  'requestAttachmentFile',
];

/** $ers.createAdviceAndGuidance's body (a044). */
export function parseCreateAdvice(body: unknown, businessFunction: string): CreateAdviceRequest {
  const params = knownParameters(body, CREATE_PARAMS, ['requestAttachmentFile']);
  const patient = params.one('patient');
  if (!patient) throw missing('patient');
  const id = patient.valueIdentifier;
  if (!isObject(id) || id.system !== NHS_NUMBER_SYSTEM_STU3)
    throw invalid(`'patient' must be a valueIdentifier with system ${NHS_NUMBER_SYSTEM_STU3}`);
  if (!isValidNhsNumber(id.value))
    throw invalid(`'patient' value '${String(id.value).slice(0, 20)}' is not a valid NHS Number`);
  const conversion = coding(
    params.one('providerConversionAuthorisation'),
    'providerConversionAuthorisation',
    CONVERSION_SYSTEM,
    ['AUTHORISED_TO_CONVERT', 'NOT_AUTHORISED_TO_CONVERT'] as const,
  );
  const { shortlist, serviceId, criteria } = parseShortlist(params.one('shortlist'));
  const request = text(params.one('request'), 'request');
  // a044: only with the Referring Clinician Admin function, where it is also mandatory
  const clinician = params.one('referringClinician');
  if (clinician && businessFunction !== RCA)
    throw ersError(
      422,
      'business-rule',
      'FIELD_NOT_PERMITTED',
      `'referringClinician' is permitted only with the ${RCA} Business Function`,
    );
  if (!clinician && businessFunction === RCA)
    throw ersError(
      422,
      'required',
      'VALUE_IS_REQUIRED',
      `'referringClinician' is required with ${RCA}`,
    );
  let referringClinician: string | undefined;
  if (clinician) {
    const v = clinician.valueIdentifier;
    if (
      !isObject(v) ||
      v.system !== SDS_USER_SYSTEM ||
      typeof v.value !== 'string' ||
      !/^[0-9]{12}$/.test(v.value)
    )
      throw invalid(
        `'referringClinician' must be a valueIdentifier of ${SDS_USER_SYSTEM} (12 digits)`,
      );
    referringClinician = v.value;
  }
  const attachments = params
    .all('requestAttachmentFile')
    .map((p, i) => attachment(p, 'requestAttachmentFile', i, 'ADVICE_REQUEST'));
  return {
    nhsNumber: id.value as string,
    conversion,
    shortlist,
    serviceId,
    criteria,
    request,
    ...(referringClinician ? { referringClinician } : {}),
    attachments,
  };
}

/** The shortlist: a List of exactly one service (a044: "The maximum number of services ... is 1"). */
function parseShortlist(p: Parameter | undefined) {
  if (!p) throw missing('shortlist');
  const list = p.resource;
  if (!isObject(list) || list.resourceType !== 'List')
    throw structure("'shortlist' must carry a List resource");
  const entries = list.entry;
  if (!Array.isArray(entries) || entries.length === 0)
    throw ersError(422, 'required', 'MISSING_VALUE', 'the shortlist must name a service');
  if (entries.length > 1)
    throw ersError(
      422,
      'value',
      'TOO_MANY_ITEMS',
      `an advice and guidance shortlist holds at most 1 service; ${entries.length} were given`,
    );
  const ident = isObject(entries[0]) ? entries[0].item?.identifier : undefined;
  if (
    !isObject(ident) ||
    ident.system !== ERS_SERVICE_SYSTEM ||
    typeof ident.value !== 'string' ||
    !/^[A-Za-z0-9._-]{1,64}$/.test(ident.value)
  )
    throw invalid(`the shortlist entry must name a service by identifier (${ERS_SERVICE_SYSTEM})`);
  if (list.contained !== undefined && !Array.isArray(list.contained))
    throw structure("the shortlist's contained must be an array");
  return { shortlist: list, serviceId: ident.value, criteria: criteriaOf(list) };
}

function criteriaOf(list: Record<string, any>): SearchCriteria {
  const criteria: SearchCriteria = {};
  for (const c of (list.contained ?? []) as unknown[]) {
    if (!isObject(c) || c.resourceType !== 'Parameters') continue;
    if (!Array.isArray(c.parameter)) throw structure('search criteria parameter must be an array');
    for (const p of c.parameter as unknown[]) {
      if (!isObject(p)) throw structure('search criteria parameters must be objects');
      const code = isObject(p.valueCoding) ? p.valueCoding.code : undefined;
      if (p.name === 'priority') {
        if (
          p.valueCoding?.system !== PRIORITY_SYSTEM ||
          !(PRIORITIES as readonly unknown[]).includes(code)
        )
          throw badCode(
            `search criteria priority must be one of ${PRIORITIES.join(', ')} (${PRIORITY_SYSTEM})`,
          );
        criteria.priority = code;
      } else if (p.name === 'specialty' || p.name === 'clinicType') {
        if (typeof code !== 'string' || !/^[A-Z0-9_]{1,64}$/.test(code))
          throw invalid(`search criteria ${p.name} must be a valueCoding with a code`);
        criteria[p.name as 'specialty' | 'clinicType'] = code;
      }
    }
  }
  return criteria;
}

export type GuidanceOutcome = 'REQUIRE_FURTHER_INFORMATION' | 'RETURN_TO_REFERRER_WITH_ADVICE';

export interface SendResponseRequest {
  outcome: GuidanceOutcome;
  recommendation?: string;
  guidance: string;
  priority: string;
  attachments: AttachmentRef[];
}

const OUTCOME_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-GuidanceResponseOutcome-1';
const RECOMMENDATION_SYSTEM =
  'https://fhir.nhs.uk/STU3/CodeSystem/eRS-GuidanceIntendedRecommendation-1';
const RECOMMENDATIONS = [
  'ADVICE_ONLY_NO_REFERRAL_RECOMMENDED',
  'ADVICE_FOLLOWED_BY_REFERRAL_IF_REQUIRED',
  'REFERRAL_RECOMMENDED',
  'OTHER',
] as const;

/** $ers.sendCommunicationToRequester's body (a026). */
export function parseSendResponse(body: unknown): SendResponseRequest {
  const params = knownParameters(
    body,
    [
      'guidanceOutcome',
      'guidanceIntendedRecommendation',
      'guidance',
      'updatedPriority',
      'guidanceAttachmentFile',
    ],
    ['guidanceAttachmentFile'],
  );
  const outcome = coding(params.one('guidanceOutcome'), 'guidanceOutcome', OUTCOME_SYSTEM, [
    'RETURN_TO_REFERRER_WITH_ADVICE',
    'REQUIRE_FURTHER_INFORMATION',
    'PROVIDER_CONVERTED',
  ] as const);
  if (outcome === 'PROVIDER_CONVERTED')
    throw ersError(
      422,
      'business-rule',
      'INAPPROPRIATE_VALUE',
      "'guidanceOutcome' PROVIDER_CONVERTED is made by $ers.createFromCommunicationRequestActionLater (A027)",
    );
  const rec = params.one('guidanceIntendedRecommendation');
  if (outcome === 'RETURN_TO_REFERRER_WITH_ADVICE' && !rec)
    throw ersError(
      422,
      'required',
      'VALUE_IS_REQUIRED',
      "'guidanceIntendedRecommendation' is required with RETURN_TO_REFERRER_WITH_ADVICE",
    );
  if (outcome !== 'RETURN_TO_REFERRER_WITH_ADVICE' && rec)
    throw ersError(
      422,
      'business-rule',
      'FIELD_NOT_PERMITTED',
      "'guidanceIntendedRecommendation' is given only with RETURN_TO_REFERRER_WITH_ADVICE",
    );
  const recommendation = rec
    ? coding(rec, 'guidanceIntendedRecommendation', RECOMMENDATION_SYSTEM, RECOMMENDATIONS)
    : undefined;
  return {
    outcome,
    ...(recommendation ? { recommendation } : {}),
    guidance: text(params.one('guidance'), 'guidance'),
    priority: priority(params.one('updatedPriority'), 'updatedPriority'),
    attachments: params
      .all('guidanceAttachmentFile')
      .map((p, i) => attachment(p, 'guidanceAttachmentFile', i, 'GUIDANCE_RESPONSE')),
  };
}

export interface ConvertRequest {
  ubrn: string;
  version: number;
  guidance: string;
  priority: string;
  reviewComments: string;
  guidanceAttachments: AttachmentRef[];
  reviewAttachments: AttachmentRef[];
}

/** $ers.createFromCommunicationRequestActionLater's body (a027). */
export function parseConvert(body: unknown): ConvertRequest {
  const params = knownParameters(
    body,
    [
      'createFrom',
      'guidance',
      'newReferralPriority',
      'reviewComments',
      'guidanceAttachmentFile',
      'reviewAttachmentFile',
    ],
    ['guidanceAttachmentFile', 'reviewAttachmentFile'],
  );
  const from = params.one('createFrom');
  if (!from) throw missing('createFrom');
  const ref = isObject(from.valueReference) ? from.valueReference.reference : undefined;
  return {
    ...parseRequestVersion(ref, 'createFrom'),
    guidance: text(params.one('guidance'), 'guidance'),
    priority: priority(params.one('newReferralPriority'), 'newReferralPriority'),
    reviewComments: text(params.one('reviewComments'), 'reviewComments'),
    guidanceAttachments: params
      .all('guidanceAttachmentFile')
      .map((p, i) => attachment(p, 'guidanceAttachmentFile', i, 'GUIDANCE_RESPONSE')),
    reviewAttachments: params
      .all('reviewAttachmentFile')
      .map((p, i) => attachment(p, 'reviewAttachmentFile', i, 'PROVIDER')),
  };
}
