import { FhirError } from '../../fhir/errors.js';

/** A validated PDS trace (patient search) request. */
export interface DateCondition {
  op: 'eq' | 'ge' | 'le';
  value: string;
}

export interface TraceRequest {
  fuzzy: boolean;
  exact: boolean;
  history: boolean;
  maxResults: number;
  family?: string;
  given: string[];
  gender?: string;
  birthdate: DateCondition[];
  deathDate: DateCondition[];
  postcode?: string;
  gp?: string;
  email?: string;
  phone?: string;
}

/** The trace parameters PDS knows (GET /Patient's querystring schema names them too). */
export const TRACE_PARAMS = [
  '_fuzzy-match',
  '_exact-match',
  '_history',
  '_max-results',
  'family',
  'given',
  'gender',
  'birthdate',
  'death-date',
  'address-postalcode',
  'address-postcode',
  'general-practitioner',
  'email',
  'phone',
] as const;
const REPEATABLE = new Set(['given', 'birthdate', 'death-date']);
const GENDERS = new Set(['male', 'female', 'other', 'unknown']);
const DATE = /^(eq|ge|le)?(\d{4}-\d{2}-\d{2})$/;
export const MAX_RESULTS_LIMIT = 50;
/** PDS's words when the criteria cannot start a search (searchErrors.feature, "Too few search params"). */
const MINIMUM_NOT_MET =
  'No searches were performed as the search criteria did not meet the minimum requirements';
/** PDS's words when a fuzzy search is given data a fuzzy search cannot use (a wildcard). */
const FUZZY_CRITERIA_NOT_MET =
  'A fuzzy search was requested however the data given did not meet the fuzzy search criteria';

const invalid = (field: string, value: string) =>
  new FhirError(
    400,
    'INVALID_VALUE',
    `Invalid value - '${value.slice(0, 100)}' in field '${field}'`,
  );
const badCombination = (why: string) =>
  new FhirError(400, 'INVALID_SEARCH_DATA', `Invalid search data provided - '${why}'`);

function isRealDate(iso: string): boolean {
  const d = new Date(iso + 'T00:00:00Z');
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === iso;
}

function booleanParam(field: string, raw: string | undefined): boolean {
  if (raw === undefined) return false;
  const v = raw.toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw invalid(field, raw);
}

function dates(field: string, raw: string[]): DateCondition[] {
  if (raw.length > 2) throw badCombination(`${field} may be given at most twice (a range)`);
  const out = raw.map((r) => {
    const m = DATE.exec(r);
    if (!m || !isRealDate(m[2])) throw invalid(field, r);
    return { op: (m[1] ?? 'eq') as DateCondition['op'], value: m[2] };
  });
  if (out.length === 2 && !(out.some((d) => d.op === 'ge') && out.some((d) => d.op === 'le'))) {
    throw badCombination(`two ${field} values must be a range: one ge and one le`);
  }
  return out;
}

/** A wildcard needs two characters before the first '*' and is not allowed in fuzzy search. */
function checkWildcard(field: string, value: string, fuzzy: boolean): void {
  const star = value.indexOf('*');
  if (star === -1) return;
  // a wildcard is not fuzzy search data: PDS's words (karate
  // appRestricted/searchForPatientUsingMOABcascadingTrace.feature, "fuzzy search with wild cards")
  if (fuzzy) throw badCombination(FUZZY_CRITERIA_NOT_MET);
  if (star < 2) throw invalid(field, value);
  // matching ignores punctuation and spaces, so '--*' would be a bare wildcard over every name
  if (!/[\p{L}\p{N}]/u.test(value.slice(0, star))) throw invalid(field, value);
}

function single(
  query: Record<string, string | string[] | undefined>,
  key: string,
): string | undefined {
  const v = query[key];
  if (Array.isArray(v)) throw badCombination(`${key} may only be given once`);
  return v;
}

type TraceQuery = Record<string, string | string[] | undefined>;

/**
 * Validates the query string of GET /Patient the way PDS does, or throws the PDS error. Three steps,
 * in PDS's order: the query's shape, each value, then the Spine's rules for which combinations
 * may start a search.
 */
export function parseTraceRequest(query: TraceQuery): TraceRequest {
  checkQueryShape(query);
  const req = readTraceValues(query);
  checkMinimumCriteria(req);
  return req;
}

/**
 * Only the repeatable parameters repeated. That there is at least one parameter and each is one PDS
 * knows is the route schema's check (trace-query-schema.ts), made before the handler runs.
 */
function checkQueryShape(query: TraceQuery): void {
  for (const key of Object.keys(query)) {
    if (Array.isArray(query[key]) && !REPEATABLE.has(key))
      throw badCombination(`${key} may only be given once`);
  }
}

/** Each parameter's value read and checked, wildcards included. */
function readTraceValues(query: TraceQuery): TraceRequest {
  const list = (key: string) => [query[key] ?? []].flat().map((v) => v.trim());
  const fuzzy = booleanParam('_fuzzy-match', single(query, '_fuzzy-match'));
  const exact = booleanParam('_exact-match', single(query, '_exact-match'));
  const history = booleanParam('_history', single(query, '_history'));
  const maxRaw = single(query, '_max-results');
  let maxResults = MAX_RESULTS_LIMIT;
  if (maxRaw !== undefined) {
    if (!/^\d{1,3}$/.test(maxRaw) || Number(maxRaw) < 1 || Number(maxRaw) > MAX_RESULTS_LIMIT)
      throw invalid('_max-results', maxRaw);
    maxResults = Number(maxRaw);
  }
  const gender = single(query, 'gender')?.trim().toLowerCase();
  if (gender !== undefined && !GENDERS.has(gender)) throw invalid('gender', query.gender as string);
  if (query['address-postalcode'] !== undefined && query['address-postcode'] !== undefined) {
    throw badCombination('give only one of address-postalcode and address-postcode');
  }
  const req: TraceRequest = {
    fuzzy,
    exact,
    history,
    maxResults,
    gender,
    family: single(query, 'family')?.trim() || undefined,
    given: list('given').filter(Boolean),
    birthdate: dates('birthdate', list('birthdate')),
    deathDate: dates('death-date', list('death-date')),
    postcode:
      (single(query, 'address-postalcode') ?? single(query, 'address-postcode'))?.trim() ||
      undefined,
    gp: single(query, 'general-practitioner')?.trim().toUpperCase() || undefined,
    email: single(query, 'email')?.trim().toLowerCase() || undefined,
    phone: single(query, 'phone')?.trim() || undefined,
  };
  for (const [field, value] of [
    ['family', req.family],
    ['address-postalcode', req.postcode],
    ...req.given.map((g) => ['given', g]),
  ] as [string, string | undefined][]) {
    if (value) checkWildcard(field, value, fuzzy);
  }
  if (req.email?.includes('*')) throw invalid('email', req.email);
  if (req.phone?.includes('*')) throw invalid('phone', req.phone);
  if (req.email && !/^[^\s@]+@[^\s@]+$/.test(req.email)) throw invalid('email', req.email);
  if (req.phone && !/^\+?[0-9 ()-]{3,20}$/.test(req.phone)) throw invalid('phone', req.phone);
  if (req.gp && !/^[A-Z0-9]{3,8}$/.test(req.gp)) throw invalid('general-practitioner', req.gp);
  return req;
}

/** The Spine's minimum criteria for a search to start: a birth date, then enough else by mode. */
function checkMinimumCriteria(req: TraceRequest): void {
  const fuzzy = req.fuzzy;
  // a date of birth (or range) is the first thing PDS asks for, whatever else is missing
  // (searchErrors.feature: email/phone only and gender only are both answered MISSING_VALUE)
  if (req.birthdate.length === 0)
    throw new FhirError(
      400,
      'MISSING_VALUE',
      "Missing value - 'birth_date/birth_date_range_start/birth_date_range_end'",
    );
  if (fuzzy) {
    // _history has no effect on a fuzzy search, which always includes history
    // (personal-demographics.yaml, parameter History);
    // the birth date may be a range (searchParams.feature, "Algorithm search with basic ... and phone number")
    const given = req.given.length > 0;
    const ok =
      (given && req.family) ||
      (req.family && req.gender && req.postcode) ||
      (given && req.gender && req.postcode);
    if (!ok) throw badCombination(MINIMUM_NOT_MET);
  } else if (
    !req.family &&
    !req.given.length &&
    !req.postcode &&
    !req.gp &&
    !req.email &&
    !req.phone
  ) {
    throw badCombination(MINIMUM_NOT_MET);
  }
}
