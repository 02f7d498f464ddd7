/**
 * The value-level checks the Patient rules are built from (dates, periods, free text, lists) and the
 * way PDS words a refusal. Kept apart from the element rules so those read as PDS's business rules.
 */
import { FhirError } from '../../fhir/errors.js';
import { today } from './patient-model.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;
// control characters are refused in any text value
const UNSUPPORTED_CHARACTERS = /[\u0000-\u001f\u007f]/;

export const invalid = (
  code: 'INVALID_VALUE' | 'INVALID_UPDATE' | 'VALIDATION_ERROR',
  msg: string,
) => new FhirError(400, code, msg);

/** How PDS (a Python service) prints a value in its diagnostics: ['a', 'b'], {'k': True}, 'text'. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object')
    return `{${Object.entries(value)
      .map(([k, v]) => `'${k}': ${pyRepr(v)}`)
      .join(', ')}}`;
  return String(value);
}

/** A value as PDS quotes it inside '...': a string as it is, anything else as Python prints it. */
export const shown = (v: unknown) => (typeof v === 'string' ? v : pyRepr(v)).slice(0, 200);

/** The refusal of a business rule: INVALID_CREATE on a birth registration, INVALID_UPDATE on a patch. */
export function ruleBroken(mode: 'create' | 'update', why: string): FhirError {
  return mode === 'create'
    ? new FhirError(400, 'INVALID_CREATE', `Invalid patient create data provided - '${why}'`)
    : new FhirError(400, 'INVALID_UPDATE', `Invalid update with error - ${why}`);
}

function isRealDate(s: string): boolean {
  const d = new Date(s.slice(0, 10) + 'T00:00:00Z');
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s.slice(0, 10);
}

export function checkDate(field: string, value: unknown, withTime = false): string {
  if (
    typeof value !== 'string' ||
    !(withTime ? DATE_TIME : DATE).test(value) ||
    !isRealDate(value)
  ) {
    throw invalid(
      'INVALID_VALUE',
      `Invalid value - '${shown(value).slice(0, 40)}' in field '${field}'`,
    );
  }
  return value;
}

export function checkPeriod(field: string, period: unknown): void {
  if (period === undefined) return;
  if (typeof period !== 'object' || period === null)
    throw invalid('INVALID_VALUE', `Invalid value in field '${field}.period'`);
  const { start, end } = period as { start?: unknown; end?: unknown };
  if (start === undefined)
    throw new FhirError(400, 'MISSING_VALUE', `Missing value - '${field}.period.start'`);
  const s = checkDate(`${field}.period.start`, start, true);
  if (s.slice(0, 10) > today())
    throw invalid(
      'INVALID_UPDATE',
      `Invalid update with error - '${field}.period.start' is in the future`,
    );
  if (end !== undefined && checkDate(`${field}.period.end`, end, true) < s) {
    throw invalid(
      'INVALID_UPDATE',
      `Invalid update with error - '${field}.period.end' is before its start`,
    );
  }
}

export function checkText(path: string, value: unknown): void {
  if (typeof value === 'string') {
    if (UNSUPPORTED_CHARACTERS.test(value))
      throw new FhirError(
        400,
        'UNSUPPORTED_CHARACTERS_IN_FIELD',
        `Unsupported characters in field '${path}'`,
      );
    if (value.length > 1000)
      throw invalid('INVALID_VALUE', `Invalid value - field '${path}' is too long`);
  } else if (Array.isArray(value)) value.forEach((v, i) => checkText(`${path}[${i}]`, v));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) checkText(`${path}.${k}`, v);
}

export function checkList(field: string, value: unknown, max: number): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value))
    throw invalid('INVALID_VALUE', `Invalid value - '${shown(value)}' in field '${field}'`);
  if (value.length > max)
    throw new FhirError(
      400,
      'TOO_MANY_VALUES_SUBMITTED',
      `Too many values submitted - '${field}' allows at most ${max}`,
    );
  value.forEach((item, i) => {
    if (!item || typeof item !== 'object' || Array.isArray(item))
      throw invalid('INVALID_VALUE', `Invalid value - '${shown(item)}' in field '${field}/${i}'`);
  });
  return value;
}
