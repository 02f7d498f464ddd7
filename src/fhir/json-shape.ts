import { FhirError } from './errors.js';

/**
 * Checked access to untrusted JSON, for validators that read FHIR bodies: a field of the wrong JSON
 * type is a 400 naming its path, never a TypeError deeper in. Absent fields read as absent.
 */
const bad = (path: string, want: string) =>
  new FhirError(400, 'INVALID_VALUE', `Invalid value - '${path}' must be ${want}`);

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An object, or undefined when absent (null counts as absent, as FHIR JSON has no nulls). */
export function objectAt(value: unknown, path: string): JsonObject | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw bad(path, 'an object');
  return value;
}

/** An array of objects ([] when absent). */
export function objectsAt(value: unknown, path: string): JsonObject[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw bad(path, 'an array');
  value.forEach((v, i) => {
    if (!isObject(v)) throw bad(`${path}[${i}]`, 'an object');
  });
  return value as JsonObject[];
}

/** A string, or undefined when absent. */
export function stringAt(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw bad(path, 'a string');
  return value;
}
