import { FhirError } from '../../fhir/errors.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { EHIC_COUNTRIES, ISO_3166_SYSTEM, type EhicCard } from './coverage-model.js';
import { today } from './patient-model.js';
import { NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';

/**
 * The rules an EHIC update must meet, with PDS's published codes and wording: every field is
 * required, one card number, one institution, a country that issues the EHIC, an expiry date within
 * 150 years of today. Paths are written as PDS writes them ('payor/0/identifier/value').
 */
const TOP_LEVEL = new Set([
  'resourceType',
  'status',
  'type',
  'identifier',
  'beneficiary',
  'period',
  'payor',
  'subscriber',
]);
/** Card number, personal ID (at most 25) and institution ID (at most 30): the characters PDS accepts. */
const EHIC_TEXT = /^[0-9a-zA-Z\-,/:'. ]+$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const EHIC_TYPE_CODE = 'EHIC';

const missing = (path: string) => new FhirError(400, 'MISSING_VALUE', `Missing value - '${path}'`);
const invalid = (value: unknown, path: string) =>
  new FhirError(400, 'INVALID_VALUE', `Invalid value - '${show(value)}' in field '${path}'`);

function show(value: unknown): string {
  return (typeof value === 'string' ? value : pyRepr(value)).slice(0, 200);
}

/** A value as PDS quotes it in diagnostics (Python's repr of the parsed JSON). */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
    .join(', ')}}`;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function at(doc: unknown, path: string): unknown {
  let cur: unknown = doc;
  for (const key of path.split('/')) {
    if (Array.isArray(cur) && /^\d+$/.test(key)) cur = cur[Number(key)];
    else if (isObject(cur)) cur = cur[key];
    else return undefined;
  }
  return cur;
}

function text(doc: unknown, path: string, max: number): string {
  const value = at(doc, path);
  if (value === undefined || value === null) throw missing(path);
  if (
    typeof value !== 'string' ||
    value.trim() === '' ||
    value.length > max ||
    !EHIC_TEXT.test(value)
  )
    throw invalid(value, path);
  return value;
}

/** A list of exactly one entry. */
function single(doc: Record<string, unknown>, field: string): void {
  const list = doc[field];
  if (list === undefined || list === null) throw missing(field);
  if (!Array.isArray(list)) throw invalid(list, field);
  if (list.length === 0)
    throw new FhirError(
      400,
      'TOO_FEW_VALUES_SUBMITTED',
      `Too few values submitted - [] in field '${field}'`,
    );
  if (list.length > 1)
    throw new FhirError(
      400,
      'TOO_MANY_VALUES_SUBMITTED',
      `Too many values submitted - ${pyRepr(list).slice(0, 500)} in field '${field}'`,
    );
}

function addYears(date: string, years: number): string {
  return `${String(Number(date.slice(0, 4)) + years).padStart(4, '0')}${date.slice(4)}`;
}

/** The NHS Number an update names as subscriber, or undefined when it names none. */
export function coverageSubscriber(body: unknown): string | undefined {
  const value = at(body, 'subscriber/identifier/value');
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** Checks an update body and returns the card it describes; the first rule broken is refused. */
export function validateCoverage(body: unknown): EhicCard {
  if (!isObject(body))
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'Invalid value - the body must be a Coverage resource',
    );
  for (const key of Object.keys(body)) {
    if (!TOP_LEVEL.has(key))
      throw new FhirError(
        400,
        'ADDITIONAL_PROPERTIES',
        `Additional properties are not allowed ('${key.slice(0, 60)}' was unexpected)`,
      );
  }
  if (body.resourceType !== 'Coverage') throw invalid(body.resourceType, 'resourceType');
  if (body.status !== undefined && body.status !== 'active') throw invalid(body.status, 'status');
  if (body.type !== undefined) {
    const coding = at(body, 'type/coding');
    if (!Array.isArray(coding) || !coding.some((c) => isObject(c) && c.code === EHIC_TYPE_CODE))
      throw invalid(at(body, 'type/coding/0/code'), 'type/coding/0/code');
  }

  const nhs = at(body, 'subscriber/identifier/value');
  if (nhs === undefined || nhs === null) throw missing('subscriber/identifier/value');
  const system = at(body, 'subscriber/identifier/system');
  if (system !== undefined && system !== NHS_NUMBER_SYSTEM)
    throw invalid(system, 'subscriber/identifier/system');
  if (typeof nhs !== 'string' || !isValidNhsNumber(nhs))
    throw new FhirError(
      400,
      'INVALID_RESOURCE_ID',
      `Invalid resource ID - NHS Number '${show(nhs).slice(0, 20)}' is not valid`,
    );

  single(body, 'identifier');
  const cardNumber = text(body, 'identifier/0/value', 25);
  const country = at(body, 'identifier/0/assigner/identifier/value');
  if (country === undefined || country === null)
    throw missing('identifier/0/assigner/identifier/value');
  if (typeof country !== 'string' || !Object.hasOwn(EHIC_COUNTRIES, country))
    throw invalid(country, 'identifier/0/assigner/identifier/value');
  const countrySystem = at(body, 'identifier/0/assigner/identifier/system');
  if (countrySystem !== undefined && countrySystem !== ISO_3166_SYSTEM)
    throw invalid(countrySystem, 'identifier/0/assigner/identifier/system');

  const personalId = text(body, 'beneficiary/identifier/value', 25);

  single(body, 'payor');
  const institutionId = text(body, 'payor/0/identifier/value', 30);

  const expiry = at(body, 'period/end');
  if (expiry === undefined || expiry === null) throw missing('period/end');
  if (
    typeof expiry !== 'string' ||
    !DATE.test(expiry) ||
    Number.isNaN(Date.parse(`${expiry}T00:00:00Z`)) ||
    new Date(`${expiry}T00:00:00Z`).toISOString().slice(0, 10) !== expiry
  )
    throw invalid(expiry, 'period/end');
  const now = today();
  if (expiry <= addYears(now, -150) || expiry >= addYears(now, 150))
    throw invalid(expiry, 'period/end');

  return { nhsNumber: nhs, cardNumber, country, personalId, institutionId, expiry };
}
