/**
 * What a patient service search ($ers.searchHealthcareServicesForPatient, a010) must carry, checked
 * without the store: the eRS-PatientServiceSearch-Parameters body and its contained
 * eRS-ServiceSearchCriteria-Parameters, as NHSDigital/e-referrals-service-api publishes them
 * (specification/components/stu3/schemas/eRS-PatientServiceSearch-Parameters.yaml,
 * eRS-ServiceSearchCriteria-Parameters.yaml and parameters/*.yaml). Refusals are 422s with the codes
 * of a010's error table (responses/patientServiceSearch/ErrorOutcome.yaml).
 */
import type { HealthcareService } from 'fhir/r4.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { ERS_PRIORITIES, ersProfileOf, type ErsPriority } from '../directory/index.js';
import { ersError } from './ers-errors.js';
import { NHS_NUMBER_SYSTEM_STU3, ODS_SYSTEM_STU3, PRIORITY_SYSTEM } from './referral-model.js';

export const REQUEST_TYPE_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-RequestType-1';
export const SORT_BY_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-SortBy-1';
export const CLINIC_TYPE_SEARCH_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ClinicType-1';
/** The search names a specialty under the server's own base: `_baseUrl_/STU3/CodeSystem/SPECIALTY`. */
export const SPECIALTY_PATH = '/STU3/CodeSystem/SPECIALTY';
export const SDS_USER_SYSTEM = 'http://fhir.nhs.net/Id/sds-user-id';
export const DIRECTORY_ORG_SYSTEM = 'https://directory.spineservices.nhs.uk/STU3/Organization';
const SNOMED_SYSTEM = 'http://snomed.info/sct';
const PROVISIONING_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-CommissioningProvisioning-1';
const PROVISIONING = [
  'ALL_AVAILABLE_FOR_BOOKING',
  'ALL_SERVICES',
  'LOCALLY_COMMISSIONABLE',
  'NATIONALLY_AVAILABLE',
];

/** The request types a search may be for (parameters/RequestType.yaml). */
export const REQUEST_TYPES = ['APPOINTMENT_REQUEST', 'ADVICE_AND_GUIDANCE_REQUEST'] as const;
export type RequestType = (typeof REQUEST_TYPES)[number];
/** DISTANCE: nearest first; IWT: shortest indicative appointment wait first (parameters/SortBy.yaml). */
export const SORT_ORDERS = ['DISTANCE', 'IWT'] as const;
export type SortBy = (typeof SORT_ORDERS)[number];

/** The largest unsigned int the published schema allows (int32). */
const MAX_UNSIGNED = 2_147_483_647;
const ERS_CODE = /^[A-Z][A-Z0-9_]{0,79}$/;
const ODS = /^[A-Z0-9]{3,10}$/;
/** SDS user ids: 12 digits nationally; the demo directory's users have names (demo-clinician). */
const SDS_USER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const UK_POSTCODE = /^[A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}$/;

export interface ServiceSearchRequest {
  requestType: RequestType;
  sortBy: SortBy;
  nhsNumber: string;
  /** The clinician an admin searches for (validated; e-RS records it, OpenSpine does not need it). */
  referringClinician?: string;
  commissioningRuleOrganisation?: string;
  priority: ErsPriority;
  specialty?: string;
  clinicType?: string;
  /** indicativeAppointmentWaitTimeLimit, in days. */
  waitLimitDays?: number;
  /** Measure distances from this postcode rather than the patient's home address. */
  postcode?: string;
  /** distanceLimit, in miles. */
  distanceLimit?: number;
  /** SDS user id of a clinician the service must be reached through. */
  namedClinician?: string;
  /** ODS code of the provider organisation. */
  organisation?: string;
  ageAndGenderAppropriate: boolean;
}

interface Parameter {
  name?: unknown;
  [value: string]: unknown;
}

const structure = (why: string) => ersError(422, 'structure', 'INVALID_FHIR_STRUCTURE', why);
const missing = (name: string) =>
  ersError(422, 'required', 'MISSING_VALUE', `'${name}' parameter is required`);
const invalid = (why: string) => ersError(422, 'value', 'INVALID_VALUE', why);
const badCode = (name: string, allowed: readonly string[], system: string) =>
  ersError(
    422,
    'code-invalid',
    'INVALID_CODE',
    `'${name}' must be a valueCoding from ${system}: one of ${allowed.join(', ')}`,
  );
const notPermitted = (why: string) => ersError(422, 'business-rule', 'FIELD_NOT_PERMITTED', why);

/** The parameters of a Parameters resource (`where` names it in a refusal). */
function parametersOf(resource: unknown, where: string): Parameter[] {
  const r = resource as { resourceType?: unknown; parameter?: unknown } | null;
  if (!r || typeof r !== 'object' || Array.isArray(r) || r.resourceType !== 'Parameters')
    throw structure(`${where} must be a Parameters resource`);
  if (!Array.isArray(r.parameter) || r.parameter.some((p) => !p || typeof p !== 'object'))
    throw structure(`${where}.parameter must be an array of parameters`);
  return r.parameter as Parameter[];
}

/** Each parameter named once, and only names in `known` (422 UNEXPECTED_FIELD otherwise). */
function byName(params: Parameter[], known: readonly string[], where: string) {
  const named = new Map<string, Parameter>();
  params.forEach((p, i) => {
    if (typeof p.name !== 'string' || !known.includes(p.name))
      throw ersError(
        422,
        'value',
        'UNEXPECTED_FIELD',
        `'${where}[${i}]' (${String(p.name).slice(0, 40)}) unknown parameter name`,
      );
    if (named.has(p.name)) throw structure(`'${p.name}' parameter may be given only once`);
    named.set(p.name, p);
  });
  return named;
}

function coding(
  p: Parameter | undefined,
  name: string,
  system: string,
  allowed: readonly string[],
) {
  const c = p?.valueCoding as { system?: unknown; code?: unknown } | undefined;
  if (!c || typeof c !== 'object' || c.system !== system || typeof c.code !== 'string')
    throw badCode(name, allowed, system);
  if (!allowed.includes(c.code)) throw badCode(name, allowed, system);
  return c.code;
}

/** An e-RS code (specialty, clinic type) under a system `matches` accepts. */
function ersCode(p: Parameter, name: string, matches: (system: string) => boolean, shown: string) {
  const c = p.valueCoding as { system?: unknown; code?: unknown } | undefined;
  if (!c || typeof c !== 'object' || typeof c.system !== 'string' || !matches(c.system))
    throw ersError(
      422,
      'code-invalid',
      'INVALID_CODE',
      `'${name}' must be a valueCoding from ${shown}`,
    );
  if (typeof c.code !== 'string' || !ERS_CODE.test(c.code))
    throw ersError(
      422,
      'code-invalid',
      'INVALID_CODE',
      `'${name}' code '${String(c.code).slice(0, 40)}' is not an e-RS code`,
    );
  return c.code;
}

/** An identifier's value under `system`; ODS codes (`upper`) are compared upper-case. */
function identifier(p: Parameter, name: string, system: string, pattern: RegExp, upper = true) {
  const id = p.valueIdentifier as { system?: unknown; value?: unknown } | undefined;
  if (!id || typeof id !== 'object' || id.system !== system || typeof id.value !== 'string')
    throw invalid(`'${name}' must be a valueIdentifier with system ${system}`);
  const value = upper ? id.value.trim().toUpperCase() : id.value.trim();
  if (!pattern.test(value))
    throw invalid(`'${name}' value '${id.value.slice(0, 20)}' is not valid`);
  return value;
}

function unsigned(p: Parameter, name: string): number {
  const v = p.valueUnsignedInt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > MAX_UNSIGNED)
    throw invalid(`'${name}' must be a valueUnsignedInt`);
  return v;
}

const PARAMS = [
  'requestType',
  'sortBy',
  'patient',
  'searchCriteria',
  'referringClinician',
  'commissioningRuleOrganisation',
] as const;
const CRITERIA = [
  'priority',
  'specialty',
  'clinicType',
  'indicativeAppointmentWaitTimeLimit',
  'postcode',
  'distanceLimit',
  'clinicalTerm',
  'namedClinician',
  'ageAndGenderAppropriate',
  'commissioningProvisioning',
  'organisation',
  'place',
] as const;

/** $ers.searchHealthcareServicesForPatient's body (eRS-PatientServiceSearch-Parameters). */
export function parseServiceSearch(body: unknown): ServiceSearchRequest {
  const params = byName(parametersOf(body, 'the body'), PARAMS, 'parameter');
  const get = (name: (typeof PARAMS)[number]) => {
    const p = params.get(name);
    if (!p) throw missing(name);
    return p;
  };
  const requestType = coding(
    get('requestType'),
    'requestType',
    REQUEST_TYPE_SYSTEM,
    REQUEST_TYPES,
  ) as RequestType;
  const sortBy = coding(get('sortBy'), 'sortBy', SORT_BY_SYSTEM, SORT_ORDERS) as SortBy;
  const patient = get('patient').valueIdentifier as
    { system?: unknown; value?: unknown } | undefined;
  if (!patient || typeof patient !== 'object' || patient.system !== NHS_NUMBER_SYSTEM_STU3)
    throw invalid(`'patient' must be a valueIdentifier with system ${NHS_NUMBER_SYSTEM_STU3}`);
  if (!isValidNhsNumber(patient.value))
    throw invalid(
      `'patient' value '${String(patient.value).slice(0, 20)}' is not a valid NHS Number`,
    );
  const clinician = params.get('referringClinician');
  const ruleOrg = params.get('commissioningRuleOrganisation');
  if (ruleOrg && requestType === 'ADVICE_AND_GUIDANCE_REQUEST')
    throw notPermitted(
      "'commissioningRuleOrganisation' is not supported with the ADVICE_AND_GUIDANCE_REQUEST request type",
    );
  return {
    requestType,
    sortBy,
    nhsNumber: patient.value as string,
    ...(clinician
      ? {
          referringClinician: identifier(
            clinician,
            'referringClinician',
            SDS_USER_SYSTEM,
            SDS_USER_ID,
            false,
          ),
        }
      : {}),
    ...(ruleOrg
      ? {
          commissioningRuleOrganisation: identifier(
            ruleOrg,
            'commissioningRuleOrganisation',
            ODS_SYSTEM_STU3,
            ODS,
          ),
        }
      : {}),
    ...parseCriteria(get('searchCriteria').resource),
  };
}

type Criteria = Omit<
  ServiceSearchRequest,
  'requestType' | 'sortBy' | 'nhsNumber' | 'referringClinician' | 'commissioningRuleOrganisation'
>;

/** The contained eRS-ServiceSearchCriteria-Parameters. */
function parseCriteria(resource: unknown): Criteria {
  const params = byName(
    parametersOf(resource, 'searchCriteria.resource'),
    CRITERIA,
    'searchCriteria.resource.parameter',
  );
  const priority = params.get('priority');
  if (!priority) throw missing('priority');
  const ageAndGender = params.get('ageAndGenderAppropriate');
  if (!ageAndGender) throw missing('ageAndGenderAppropriate');
  if (typeof ageAndGender.valueBoolean !== 'boolean')
    throw invalid("'ageAndGenderAppropriate' must be a valueBoolean");
  const out: Criteria = {
    priority: coding(priority, 'priority', PRIORITY_SYSTEM, ERS_PRIORITIES) as ErsPriority,
    ageAndGenderAppropriate: ageAndGender.valueBoolean,
  };
  const p = (name: (typeof CRITERIA)[number]) => params.get(name);
  if (p('place'))
    throw notPermitted("'place' is only supported in read mode: search by place is not possible");
  const specialty = p('specialty');
  if (specialty)
    out.specialty = ersCode(
      specialty,
      'specialty',
      // any base: the published examples send the placeholder itself (`_baseUrl_/STU3/...`)
      (s) => /^\S{1,300}$/.test(s) && s.endsWith(SPECIALTY_PATH),
      `<base URL>${SPECIALTY_PATH}`,
    );
  const clinicType = p('clinicType');
  if (clinicType)
    out.clinicType = ersCode(
      clinicType,
      'clinicType',
      (s) => s === CLINIC_TYPE_SEARCH_SYSTEM,
      CLINIC_TYPE_SEARCH_SYSTEM,
    );
  const wait = p('indicativeAppointmentWaitTimeLimit');
  if (wait) out.waitLimitDays = unsigned(wait, 'indicativeAppointmentWaitTimeLimit');
  const postcode = p('postcode');
  if (postcode) {
    const pc = typeof postcode.valueString === 'string' ? postcode.valueString.trim() : '';
    if (!UK_POSTCODE.test(pc.toUpperCase().replace(/\s+/g, ' ')))
      throw invalid(`'postcode' value '${pc.slice(0, 20)}' is not a UK postcode`);
    out.postcode = pc.toUpperCase();
  }
  const distance = p('distanceLimit');
  if (distance) out.distanceLimit = unsigned(distance, 'distanceLimit');
  const term = p('clinicalTerm');
  if (term) {
    const c = term.valueCoding as { system?: unknown; code?: unknown } | undefined;
    if (
      !c ||
      c.system !== SNOMED_SYSTEM ||
      typeof c.code !== 'string' ||
      !/^[0-9]{1,18}$/.test(c.code)
    )
      throw invalid(`'clinicalTerm' must be a valueCoding from ${SNOMED_SYSTEM}`);
    // OpenSpine holds no e-RS clinical term dictionary (SNOMED CT to specialty and clinic type)
    throw ersError(
      422,
      'not-found',
      'SNOMED_NOT_FOUND',
      `SNOMED CT code ${c.code} is not found in the e-RS dictionary`,
    );
  }
  const named = p('namedClinician');
  if (named)
    out.namedClinician = identifier(named, 'namedClinician', SDS_USER_SYSTEM, SDS_USER_ID, false);
  const org = p('organisation');
  if (org) out.organisation = identifier(org, 'organisation', DIRECTORY_ORG_SYSTEM, ODS);
  // no longer supported as an input (published): checked, then ALL_AVAILABLE_FOR_BOOKING is used
  const provisioning = p('commissioningProvisioning');
  if (provisioning)
    coding(provisioning, 'commissioningProvisioning', PROVISIONING_SYSTEM, PROVISIONING);
  if (!out.specialty && !out.clinicType && !out.namedClinician && !out.organisation)
    throw ersError(
      422,
      'business-rule',
      'VALUE_IS_REQUIRED',
      "the search criteria must name at least one of 'specialty', 'clinicType', 'namedClinician' or 'organisation'",
    );
  return out;
}

/**
 * A shortlisted service must be one a service search could have found for this referrer: offered on
 * e-RS (an e-RS profile: 422 INAPPROPRIATE_VALUE otherwise) and, when restricted to referrers at
 * certain organisations, open to the referrer's (422 SHORTLISTED_SERVICE_NOT_IN_RESULTS otherwise;
 * an unknown referrer is refused a restricted service).
 */
export function checkShortlistable(
  id: string,
  service: HealthcareService,
  referrer?: string,
): void {
  const profile = ersProfileOf(service);
  if (!profile)
    throw ersError(
      422,
      'business-rule',
      'INAPPROPRIATE_VALUE',
      `Service ${id} is not offered on e-RS`,
    );
  if (profile.restrictedTo && (referrer === undefined || !profile.restrictedTo.includes(referrer)))
    throw ersError(
      422,
      'business-rule',
      'SHORTLISTED_SERVICE_NOT_IN_RESULTS',
      `Service ${id} is open only to referrers at the organisations it names`,
    );
}
