import type { Patient } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { today } from './patient-model.js';

/** The elements a PDS Patient may carry; anything else is refused as an additional property. */
export const PATIENT_ELEMENTS = new Set([
  'resourceType', 'id', 'meta', 'identifier', 'name', 'gender', 'birthDate', 'deceasedDateTime', 'multipleBirthInteger',
  'address', 'telecom', 'contact', 'generalPractitioner', 'managingOrganization', 'extension', 'link',
]);
const GENDERS = new Set(['male', 'female', 'other', 'unknown']);
const TELECOM_SYSTEMS = new Set(['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other']);
const UK_POSTCODE = /^([A-Z]{1,2}[0-9][A-Z0-9]? ?[0-9][A-Z]{2}|ZZ99 ?3VZ)$/i;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;
// control characters (other than none) are refused in any text value
const UNSUPPORTED_CHARACTERS = /[\u0000-\u001f\u007f]/;

const invalid = (code: 'INVALID_VALUE' | 'INVALID_UPDATE' | 'VALIDATION_ERROR', msg: string) => new FhirError(400, code, msg);

function isRealDate(s: string): boolean {
  const d = new Date(s.slice(0, 10) + 'T00:00:00Z');
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s.slice(0, 10);
}

function checkDate(field: string, value: unknown, withTime = false): string {
  if (typeof value !== 'string' || !(withTime ? DATE_TIME : DATE).test(value) || !isRealDate(value)) {
    throw invalid('INVALID_VALUE', `Invalid value - '${String(value).slice(0, 40)}' in field '${field}'`);
  }
  return value;
}

function checkPeriod(field: string, period: unknown): void {
  if (period === undefined) return;
  if (typeof period !== 'object' || period === null) throw invalid('INVALID_VALUE', `Invalid value in field '${field}.period'`);
  const { start, end } = period as { start?: unknown; end?: unknown };
  if (start === undefined) throw new FhirError(400, 'MISSING_VALUE', `Missing value - '${field}.period.start'`);
  const s = checkDate(`${field}.period.start`, start, true);
  if (s.slice(0, 10) > today()) throw invalid('INVALID_UPDATE', `Invalid update with error - '${field}.period.start' is in the future`);
  if (end !== undefined && checkDate(`${field}.period.end`, end, true) < s) {
    throw invalid('INVALID_UPDATE', `Invalid update with error - '${field}.period.end' is before its start`);
  }
}

function checkText(path: string, value: unknown): void {
  if (typeof value === 'string') {
    if (UNSUPPORTED_CHARACTERS.test(value)) throw new FhirError(400, 'UNSUPPORTED_CHARACTERS_IN_FIELD', `Unsupported characters in field '${path}'`);
    if (value.length > 1000) throw invalid('INVALID_VALUE', `Invalid value - field '${path}' is too long`);
  } else if (Array.isArray(value)) value.forEach((v, i) => checkText(`${path}[${i}]`, v));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) checkText(`${path}.${k}`, v);
}

function checkList(field: string, value: unknown, max: number): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw invalid('INVALID_VALUE', `Invalid value in field '${field}': a list is required`);
  if (value.length > max) throw new FhirError(400, 'TOO_MANY_VALUES_SUBMITTED', `Too many values submitted - '${field}' allows at most ${max}`);
  value.forEach((item, i) => { if (!item || typeof item !== 'object' || Array.isArray(item)) throw invalid('INVALID_VALUE', `Invalid value in field '${field}[${i}]'`); });
  return value;
}

/**
 * Checks that a document is a Patient PDS can hold: known elements only, well-formed values,
 * consistent dates, at least one name. Used after every patch and on birth registration.
 */
export function validatePatient(p: Patient): void {
  const doc = p as unknown as Record<string, unknown>;
  for (const key of Object.keys(doc)) {
    if (!PATIENT_ELEMENTS.has(key)) throw new FhirError(400, 'ADDITIONAL_PROPERTIES', `Invalid update with error - Update unsupported for resource - '${key.slice(0, 60)}'`);
  }
  checkText('Patient', doc);
  if (p.resourceType !== 'Patient') throw invalid('INVALID_VALUE', "Invalid value in field 'resourceType'");
  const names = checkList('name', p.name, 20) as Patient['name'] & object;
  if (names.length === 0) throw new FhirError(400, 'TOO_FEW_VALUES_SUBMITTED', "Too few values submitted - 'name' needs at least one entry");
  names.forEach((n, i) => {
    if (n.family !== undefined && typeof n.family !== 'string') throw invalid('INVALID_VALUE', `Invalid value in field 'name[${i}].family'`);
    if (n.given !== undefined && (!Array.isArray(n.given) || n.given.some((g) => typeof g !== 'string'))) throw invalid('INVALID_VALUE', `Invalid value in field 'name[${i}].given'`);
    if (!n.family && !n.given?.length) throw new FhirError(400, 'MISSING_VALUE', `Missing value - 'name[${i}]' needs a family or given name`);
    checkPeriod(`name[${i}]`, n.period);
  });
  if (p.gender === undefined) throw new FhirError(400, 'MISSING_VALUE', "Missing value - 'gender'");
  if (!GENDERS.has(p.gender)) throw invalid('INVALID_VALUE', `Invalid value - '${String(p.gender).slice(0, 20)}' in field 'gender'`);
  if (p.birthDate === undefined) throw new FhirError(400, 'MISSING_VALUE', "Missing value - 'birthDate'");
  checkDate('birthDate', p.birthDate);
  if (p.birthDate > today()) throw invalid('INVALID_VALUE', "Invalid value - 'birthDate' is in the future");
  if (p.deceasedDateTime !== undefined) {
    const d = checkDate('deceasedDateTime', p.deceasedDateTime, true);
    if (d.slice(0, 10) < p.birthDate) throw invalid('INVALID_UPDATE', 'Invalid update with error - deceasedDateTime is before birthDate');
    if (new Date(d).getTime() > Date.now() + 60_000) throw invalid('INVALID_UPDATE', 'Invalid update with error - deceasedDateTime is in the future');
  }
  if (p.multipleBirthInteger !== undefined && (!Number.isInteger(p.multipleBirthInteger) || p.multipleBirthInteger < 1 || p.multipleBirthInteger > 9)) {
    throw invalid('INVALID_VALUE', "Invalid value in field 'multipleBirthInteger'");
  }
  (checkList('address', p.address, 20) as NonNullable<Patient['address']>).forEach((a, i) => {
    if (a.postalCode !== undefined && (typeof a.postalCode !== 'string' || !UK_POSTCODE.test(a.postalCode.trim()))) {
      throw invalid('INVALID_VALUE', `Invalid value - '${String(a.postalCode).slice(0, 20)}' in field 'address[${i}].postalCode'`);
    }
    if (a.line !== undefined && (!Array.isArray(a.line) || a.line.length > 5)) throw invalid('INVALID_VALUE', `Invalid value in field 'address[${i}].line' (at most 5 lines)`);
    checkPeriod(`address[${i}]`, a.period);
  });
  (checkList('telecom', p.telecom, 20) as NonNullable<Patient['telecom']>).forEach((t, i) => {
    if (!t.system || !TELECOM_SYSTEMS.has(t.system)) throw invalid('INVALID_VALUE', `Invalid value - '${String(t.system).slice(0, 20)}' in field 'telecom[${i}].system'`);
    if (typeof t.value !== 'string' || !t.value.trim()) throw new FhirError(400, 'MISSING_VALUE', `Missing value - 'telecom[${i}].value'`);
    if (t.system === 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(t.value)) throw invalid('INVALID_VALUE', `Invalid value - '${t.value.slice(0, 60)}' in field 'telecom[${i}].value'`);
    checkPeriod(`telecom[${i}]`, t.period);
  });
  (checkList('generalPractitioner', p.generalPractitioner, 1) as NonNullable<Patient['generalPractitioner']>).forEach((g, i) => {
    const ods = g.identifier?.value;
    if (typeof ods !== 'string' || !/^[A-Z0-9]{3,8}$/i.test(ods)) throw invalid('INVALID_VALUE', `Invalid value in field 'generalPractitioner[${i}].identifier.value' (an ODS code)`);
  });
  checkList('contact', p.contact, 20);
  checkList('extension', p.extension, 50).forEach((e, i) => {
    if (typeof (e as { url?: unknown }).url !== 'string') throw new FhirError(400, 'MISSING_VALUE', `Missing value - 'extension[${i}].url'`);
  });
}
