/**
 * Search parameters of the directory, turned into index criteria. Every parameter is validated;
 * an unknown one, a repeated one or an empty search is a 400 INVALID_SEARCH_DATA.
 */
import type { IndexCondition, SearchCriterion } from '../../store/resource-store.js';
import { FhirError } from '../../fhir/errors.js';
import {
  ODS_CODE,
  ODS_ROLE_SYSTEM,
  ORG_ROLES,
  nameWords,
  normalisePostcode,
} from './organization-model.js';
import {
  SERVICE_CATEGORIES,
  SERVICE_CATEGORY_SYSTEM,
  SERVICE_TYPE_SYSTEM,
  SERVICE_TYPES,
} from './healthcare-service-model.js';
import {
  isJobRole,
  JOB_ROLE_SYSTEM,
  SDS_USER_ID,
  USER_ID_SYSTEM,
} from './practitioner-role-model.js';
import { ODS_SYSTEM } from '../../fhir/identifiers.js';

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 1000;

export type RawQuery = Record<string, string | string[] | undefined>;
type Parser = (value: string, param: string) => SearchCriterion[];

const invalidSearch = (why: string) =>
  new FhirError(400, 'INVALID_SEARCH_DATA', `Invalid search data provided - ${why}`);
const invalidValue = (param: string, value: string) =>
  new FhirError(
    400,
    'INVALID_VALUE',
    `Invalid value - '${value.slice(0, 100)}' in field '${param}'`,
  );
const anyOf = (conditions: IndexCondition[]): SearchCriterion[] => [{ any: conditions }];

/** `system|value` or a bare value; the system, when given, must be the expected one. */
function tokenValue(raw: string, param: string, system: string): string {
  const bar = raw.lastIndexOf('|');
  if (bar >= 0 && raw.slice(0, bar) !== system) throw invalidValue(param, raw);
  return bar >= 0 ? raw.slice(bar + 1) : raw;
}

function odsCode(raw: string, param: string): string {
  const code = raw.replace(/^Organization\//, '').toUpperCase();
  if (!ODS_CODE.test(code)) throw invalidValue(param, raw);
  return code;
}

/** Comma-separated alternatives, OR'ed. */
const eachOf =
  (make: (v: string) => IndexCondition): Parser =>
  (value) =>
    anyOf(value.split(',').map((v) => make(v.trim())));

export const identifierParam: Parser = (value, param) =>
  eachOf((v) => ({
    param: 'identifier',
    op: 'eq',
    value: odsCode(tokenValue(v, param, ODS_SYSTEM), param),
  }))(value, param);

// every word of the query must start a word of the name
const nameParam: Parser = (value, param) => {
  const words = nameWords(value);
  if (!words.length || words.length > 8) throw invalidValue(param, value);
  return words.map((w) => ({ any: [{ param: 'name', op: 'prefix', value: w }] }));
};

const postcodeParam: Parser = (value, param) => {
  const pc = normalisePostcode(value);
  if (pc.length < 2 || pc.length > 8) throw invalidValue(param, value);
  return anyOf([{ param: 'postcode', op: 'prefix', value: pc }]);
};

const activeParam: Parser = (value, param) => {
  if (value !== 'true' && value !== 'false') throw invalidValue(param, value);
  return anyOf([{ param: 'active', op: 'eq', value }]);
};

const organizationParam: Parser = (value, param) =>
  eachOf((v) => ({
    param: 'organization',
    op: 'eq',
    value: odsCode(tokenValue(v, param, ODS_SYSTEM), param),
  }))(value, param);

/** Codes of one code system, each turned into its canonical form (undefined: not a known code). */
const codeParam =
  (index: string, system: string, canonical: (code: string) => string | undefined): Parser =>
  (value, param) =>
    eachOf((v) => {
      const code = canonical(tokenValue(v, param, system));
      if (!code) throw invalidValue(param, v);
      return { param: index, op: 'eq', value: code };
    })(value, param);
const known = (codes: object) => (c: string) =>
  Object.hasOwn(codes, c.toLowerCase()) ? c.toLowerCase() : undefined;

export const ORGANIZATION_PARAMS: Record<string, Parser> = {
  identifier: identifierParam,
  name: nameParam,
  'address-postalcode': postcodeParam,
  type: (value, param) =>
    eachOf((v) => {
      const code = tokenValue(v, param, ODS_ROLE_SYSTEM);
      const role = Object.entries(ORG_ROLES).find(
        ([c, r]) => c === code.toUpperCase() || r.alias === code.toLowerCase(),
      );
      if (!role) throw invalidValue(param, v);
      return { param: 'type', op: 'eq', value: role[0] };
    })(value, param),
  active: activeParam,
  partof: (value, param) =>
    anyOf([
      { param: 'partof', op: 'eq', value: odsCode(tokenValue(value, param, ODS_SYSTEM), param) },
    ]),
};

export const ENDPOINT_PARAMS: Record<string, Parser> = {
  organization: organizationParam,
  interaction: (value, param) =>
    eachOf((v) => {
      if (!/^[A-Za-z0-9:._\-/]{3,200}$/.test(v)) throw invalidValue(param, v);
      return { param: 'interaction', op: 'eq', value: v };
    })(value, param),
};

export const HEALTHCARE_SERVICE_PARAMS: Record<string, Parser> = {
  organization: organizationParam,
  name: nameParam,
  // the postcode of the service's location (FHIR chaining); the Organization spelling is accepted too
  'location.address-postalcode': postcodeParam,
  'address-postalcode': postcodeParam,
  'service-type': codeParam('service-type', SERVICE_TYPE_SYSTEM, known(SERVICE_TYPES)),
  'service-category': codeParam(
    'service-category',
    SERVICE_CATEGORY_SYSTEM,
    known(SERVICE_CATEGORIES),
  ),
  active: activeParam,
};

export const PRACTITIONER_ROLE_PARAMS: Record<string, Parser> = {
  organization: organizationParam,
  'practitioner.identifier': (value, param) =>
    eachOf((v) => {
      const user = tokenValue(v, param, USER_ID_SYSTEM);
      if (!SDS_USER_ID.test(user)) throw invalidValue(param, v);
      return { param: 'practitioner', op: 'eq', value: user };
    })(value, param),
  role: codeParam('role', JOB_ROLE_SYSTEM, (c) =>
    isJobRole(c.toUpperCase()) ? c.toUpperCase() : undefined,
  ),
  active: activeParam,
};

/** The criteria and page size of a search; throws a 400 for anything it does not understand. */
export function parseSearch(
  query: RawQuery,
  params: Record<string, Parser>,
): { criteria: SearchCriterion[]; count: number } {
  const criteria: SearchCriterion[] = [];
  let count = DEFAULT_COUNT;
  for (const [param, raw] of Object.entries(query)) {
    if (raw === undefined) continue;
    if (Array.isArray(raw)) throw invalidSearch(`'${param.slice(0, 60)}' is given more than once`);
    if (param === '_count') {
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n < 1 || n > MAX_COUNT) throw invalidValue('_count', raw);
      count = n;
      continue;
    }
    if (!Object.hasOwn(params, param))
      throw invalidSearch(
        `unknown parameter '${param.slice(0, 60)}' (supported: ${Object.keys(params).join(', ')}, _count)`,
      );
    if (raw.trim() === '') throw invalidValue(param, raw);
    criteria.push(...params[param](raw.trim(), param));
  }
  if (!criteria.length)
    throw invalidSearch(`at least one of ${Object.keys(params).join(', ')} is required`);
  return { criteria, count };
}
