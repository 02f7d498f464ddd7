/**
 * What the A&G reads ask with, checked without the store: a023's worklist body
 * (eRS-FetchWorklist-Parameters with an eRS-CommunicationListSelector-1 listType), a025's based-on
 * and _include, and a request's version reference (also a027's createFrom). Refusals in eRS's words.
 */
import { ersError } from './ers-errors.js';
import { badCode, invalid, isObject, knownParameters, missing } from './ers-parameters.js';
import { ERS_SERVICE_SYSTEM, UBRN_PATTERN } from './referral-model.js';

/** CommunicationRequest/<ubrn>/_history/<version> (a027's createFrom, a025's based-on). */
export function parseRequestVersion(
  value: unknown,
  name: string,
): { ubrn: string; version: number } {
  const m =
    typeof value === 'string'
      ? /^CommunicationRequest\/([0-9]+)\/_history\/([0-9]+)$/.exec(value)
      : null;
  if (!m || !UBRN_PATTERN.test(m[1]) || !/^[1-9][0-9]{0,8}$/.test(m[2]))
    throw invalid(`'${name}' must be CommunicationRequest/<ubrn>/_history/<version>`);
  return { ubrn: m[1], version: Number(m[2]) };
}

export interface AdviceWorklistRequest {
  service?: string;
  specialty?: string;
}

const LIST_SELECTOR = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-CommunicationListSelector-1';

/**
 * The A&G worklist's body (a023, eRS-FetchWorklist-Parameters): listType ADVICE_AND_GUIDANCE_REQUESTS,
 * optionally narrowed to one service or one specialty. OpenSpine does not assign A&G requests to
 * clinicians, specialties or locations, so those filters are refused rather than ignored.
 */
export function parseAdviceWorklist(body: unknown): AdviceWorklistRequest {
  const params = knownParameters(body, ['listType', 'service', 'specialty']);
  const listType = params.one('listType');
  if (!listType) throw missing('listType');
  const codes = isObject(listType.valueCodeableConcept)
    ? listType.valueCodeableConcept.coding
    : undefined;
  const c = Array.isArray(codes) && codes.length === 1 ? codes[0] : undefined;
  if (!isObject(c) || c.system !== LIST_SELECTOR || c.code !== 'ADVICE_AND_GUIDANCE_REQUESTS')
    throw badCode(`'listType' must be ADVICE_AND_GUIDANCE_REQUESTS (${LIST_SELECTOR})`);
  const request: AdviceWorklistRequest = {};
  const service = params.one('service');
  if (service) {
    const v = service.valueIdentifier;
    if (
      !isObject(v) ||
      v.system !== ERS_SERVICE_SYSTEM ||
      typeof v.value !== 'string' ||
      !/^[A-Za-z0-9._-]{1,64}$/.test(v.value)
    )
      throw invalid(`'service' must be a valueIdentifier of ${ERS_SERVICE_SYSTEM}`);
    request.service = v.value;
  }
  const specialty = params.one('specialty');
  if (specialty) {
    const sc = isObject(specialty.valueCodeableConcept)
      ? specialty.valueCodeableConcept.coding
      : undefined;
    const code = Array.isArray(sc) && sc.length === 1 && isObject(sc[0]) ? sc[0].code : undefined;
    if (typeof code !== 'string' || !/^[A-Z0-9_]{1,64}$/.test(code))
      throw invalid("'specialty' must be a valueCodeableConcept with one coding");
    request.specialty = code;
  }
  return request;
}

const INCLUDES = [
  'Communication:requester-practitionerrole:PractitionerRole',
  // sic: a025's Include-Communication.yaml spells it so
  'Communication:sender-practitionerrole:PractionerRole',
  'Communication:content-reference:DocumentReference',
] as const;

export interface ConversationQuery {
  ubrn: string;
  version: number;
  /** Which includes to answer with (all of them when none is asked for). */
  roles: boolean;
  documents: boolean;
}

/** a025's query: based-on (required) and _include (0..*, the three published values). */
export function parseConversationQuery(query: Record<string, unknown>): ConversationQuery {
  const basedOn = query['based-on'];
  if (basedOn === undefined || basedOn === '')
    throw ersError(400, 'required', 'MISSING_VALUE', "'based-on' query parameter is required");
  if (Array.isArray(basedOn))
    throw ersError(400, 'value', 'INVALID_VALUE', "'based-on' may be given once");
  let at: { ubrn: string; version: number };
  try {
    at = parseRequestVersion(basedOn, 'based-on');
  } catch {
    throw ersError(
      400,
      'value',
      'INVALID_VALUE',
      "'based-on' must be CommunicationRequest/<ubrn>/_history/<version>",
    );
  }
  const raw = query._include;
  const asked = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  for (const i of asked)
    if (typeof i !== 'string' || !(INCLUDES as readonly string[]).includes(i))
      throw ersError(
        400,
        'value',
        'INVALID_VALUE',
        `'_include' must be one of ${INCLUDES.join(', ')}`,
      );
  const all = asked.length === 0;
  return {
    ...at,
    roles: all || asked.includes(INCLUDES[0]) || asked.includes(INCLUDES[1]),
    documents: all || asked.includes(INCLUDES[2]),
  };
}
