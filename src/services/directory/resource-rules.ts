/**
 * Checks shared by the directory's write validators (HealthcareService, PractitionerRole, Endpoint).
 * Each throws a 400 FhirError naming the field, so a client sees which part of its body is wrong;
 * fields a validator does not list are refused rather than stored unread (deny by default).
 */
import type { ContactPoint, Period } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { isObject, type JsonObject } from '../../fhir/json-shape.js';
import { ODS_CODE } from './organization-model.js';
import { ODS_SYSTEM } from '../../fhir/identifiers.js';

/** FHIR resource ids: 1-64 letters, digits, '-' and '.'. */
export const RESOURCE_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const TELECOM_SYSTEMS = new Set(['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other']);

export const invalid = (field: string, why: string) =>
  new FhirError(400, 'INVALID_VALUE', `Invalid value - ${field}: ${why}`);
export const missing = (field: string) =>
  new FhirError(400, 'MISSING_VALUE', `Missing value - '${field}' is required`);
export const badCode = (field: string, why: string) =>
  new FhirError(400, 'INVALID_CODE', `Invalid code - ${field}: ${why}`);

/** The body as an object of the expected resourceType with only the allowed fields. */
export function resourceBody(
  body: unknown,
  resourceType: string,
  allowed: readonly string[],
): JsonObject {
  if (!isObject(body)) throw invalid('body', `expected a ${resourceType} resource`);
  if (body.resourceType !== resourceType)
    throw invalid(
      'resourceType',
      `expected '${resourceType}', found '${String(body.resourceType).slice(0, 40)}'`,
    );
  const extra = Object.keys(body).filter((k) => !allowed.includes(k));
  if (extra.length)
    throw new FhirError(
      400,
      'ADDITIONAL_PROPERTIES',
      `Additional properties are not allowed - ${extra.slice(0, 5).join(', ').slice(0, 200)} (allowed: ${allowed.join(', ')})`,
    );
  return body;
}

export function text(
  body: JsonObject,
  field: string,
  opts: { required?: boolean; max?: number } = {},
): string | undefined {
  const value = body[field];
  if (value === undefined) {
    if (opts.required) throw missing(field);
    return undefined;
  }
  if (typeof value !== 'string' || value.trim() === '')
    throw invalid(field, 'expected a non-empty string');
  if (value.length > (opts.max ?? 200))
    throw invalid(field, `longer than ${opts.max ?? 200} characters`);
  return value.trim();
}

export function flag(body: JsonObject, field: string, fallback: boolean): boolean {
  const value = body[field];
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(field, 'expected true or false');
  return value;
}

export function list(
  body: JsonObject,
  field: string,
  opts: { required?: boolean; max?: number } = {},
): unknown[] {
  const value = body[field];
  if (value === undefined) {
    if (opts.required) throw missing(field);
    return [];
  }
  if (!Array.isArray(value)) throw invalid(field, 'expected an array');
  if (opts.required && value.length === 0) throw missing(field);
  if (value.length > (opts.max ?? 20)) throw invalid(field, `more than ${opts.max ?? 20} entries`);
  return value;
}

/**
 * An organisation reference, by literal reference ('Organization/A81001') and/or ODS identifier;
 * returns the upper-case ODS code. Whether the organisation exists is checked by the writer.
 */
export function odsReference(value: unknown, field: string): string {
  if (value === undefined) throw missing(field);
  if (!isObject(value)) throw invalid(field, 'expected a Reference');
  const literal = value.reference;
  const identifier = value.identifier;
  let fromLiteral: string | undefined;
  let fromIdentifier: string | undefined;
  if (literal !== undefined) {
    const m =
      typeof literal === 'string' ? /^Organization\/([A-Za-z0-9]{3,10})$/.exec(literal) : null;
    if (!m) throw invalid(`${field}.reference`, "expected 'Organization/<ODS code>'");
    fromLiteral = m[1].toUpperCase();
  }
  if (identifier !== undefined) {
    if (
      !isObject(identifier) ||
      identifier.system !== ODS_SYSTEM ||
      typeof identifier.value !== 'string'
    )
      throw invalid(`${field}.identifier`, `expected an ODS code under ${ODS_SYSTEM}`);
    fromIdentifier = identifier.value.toUpperCase();
  }
  const code = fromLiteral ?? fromIdentifier;
  if (!code) throw missing(`${field}.reference`);
  if (!ODS_CODE.test(code)) throw invalid(field, `'${code.slice(0, 20)}' is not an ODS code`);
  if (fromLiteral && fromIdentifier && fromLiteral !== fromIdentifier)
    throw invalid(field, 'reference and identifier name different organisations');
  return code;
}

/** Literal references to other resources of one type ('Endpoint/<id>'); returns the ids. */
export function literalReferences(values: unknown[], field: string, type: string): string[] {
  return values.map((v, i) => {
    const ref = isObject(v) ? v.reference : undefined;
    const m = typeof ref === 'string' ? new RegExp(`^${type}/(.+)$`).exec(ref) : null;
    if (!m || !RESOURCE_ID.test(m[1]))
      throw invalid(`${field}[${i}]`, `expected a reference '${type}/<id>'`);
    return m[1];
  });
}

/** A period of dates (YYYY-MM-DD); the end, when given, is not before the start. */
export function datePeriod(value: unknown, field: string): Period | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) throw invalid(field, 'expected a Period');
  const extra = Object.keys(value).filter((k) => k !== 'start' && k !== 'end');
  if (extra.length) throw invalid(field, `unexpected ${extra.slice(0, 3).join(', ')}`);
  const out: Period = {};
  for (const k of ['start', 'end'] as const) {
    const d = value[k];
    if (d === undefined) continue;
    if (
      typeof d !== 'string' ||
      !ISO_DATE.test(d) ||
      Number.isNaN(Date.parse(d)) ||
      new Date(d).toISOString().slice(0, 10) !== d
    )
      throw invalid(`${field}.${k}`, 'expected a date YYYY-MM-DD');
    out[k] = d;
  }
  if (out.start && out.end && out.end < out.start) throw invalid(field, 'end is before start');
  return out;
}

export function telecom(values: unknown[], field: string): ContactPoint[] {
  return values.map((v, i) => {
    if (
      !isObject(v) ||
      typeof v.system !== 'string' ||
      !TELECOM_SYSTEMS.has(v.system) ||
      typeof v.value !== 'string' ||
      !v.value.trim() ||
      v.value.length > 200
    ) {
      throw invalid(`${field}[${i}]`, 'expected {system, value}');
    }
    return {
      system: v.system as ContactPoint['system'],
      value: v.value.trim(),
      ...(v.use === 'work' || v.use === 'temp' || v.use === 'mobile' ? { use: v.use } : {}),
    };
  });
}

/** The codes of `system` in a list of CodeableConcepts; every coding must be of that system. */
export function codesOf(values: unknown[], field: string, system: string): string[] {
  const codes: string[] = [];
  values.forEach((cc, i) => {
    const codings = isObject(cc) ? cc.coding : undefined;
    if (!Array.isArray(codings) || !codings.length)
      throw invalid(`${field}[${i}]`, 'expected a CodeableConcept with a coding');
    for (const c of codings) {
      if (!isObject(c) || c.system !== system || typeof c.code !== 'string')
        throw badCode(`${field}[${i}]`, `expected codes from ${system}`);
      codes.push(c.code);
    }
  });
  return codes;
}
