import type { CodeableConcept, Coding } from 'fhir/r4.js';
import { objectAt, objectsAt, stringAt } from '../../fhir/json-shape.js';
import { FhirError } from '../../fhir/errors.js';
import { DMD, SNOMED } from './document-model.js';

// Verhoeff tables: SNOMED CT identifiers end in a Verhoeff check digit
const D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
  [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
  [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
  [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

function verhoeffValid(digits: string): boolean {
  let c = 0;
  for (let i = 0; i < digits.length; i++)
    c = D[c][P[i % 8][digits.charCodeAt(digits.length - 1 - i) - 48]];
  return c === 0;
}

/**
 * A SNOMED CT concept id: 6 to 18 digits, no leading zero, a concept partition ('00' international,
 * '10' extension, the two digits before the check digit) and a valid Verhoeff check digit. This
 * catches typos and ids of descriptions or relationships sent where a concept belongs.
 */
export function isSnomedConceptId(code: unknown): boolean {
  if (typeof code !== 'string' || !/^[1-9][0-9]{5,17}$/.test(code)) return false;
  const partition = code.slice(-3, -1);
  return (partition === '00' || partition === '10') && verhoeffValid(code);
}

/** The codings of an untrusted CodeableConcept, each with string system and code or none (400 otherwise). */
function codingsOf(concept: unknown, path: string): Coding[] {
  const c = objectAt(concept, path);
  return objectsAt(c?.coding, `${path}.coding`).map((coding, i) => ({
    system: stringAt(coding.system, `${path}.coding[${i}].system`),
    code: stringAt(coding.code, `${path}.coding[${i}].code`),
  }));
}

/** Why a concept is not acceptable, or null when one of its codings is a valid SNOMED CT concept. */
export function snomedProblem(concept: CodeableConcept | undefined, path = 'code'): string | null {
  const codings = codingsOf(concept, path);
  if (codings.length === 0) return 'is not coded';
  const snomed = codings.filter((c) => c.system === SNOMED);
  if (snomed.length === 0) return `is not coded in SNOMED CT (${SNOMED})`;
  return snomed.some((c) => isSnomedConceptId(c.code))
    ? null
    : `has no valid SNOMED CT concept id (got '${String(snomed[0].code).slice(0, 20)}')`;
}

/** dm+d products are SNOMED CT concepts of the UK drug extension, sent under either system. */
export function dmdProblem(
  concept: CodeableConcept | undefined,
  path = 'medication',
): string | null {
  const codings = codingsOf(concept, path);
  if (codings.length === 0) return 'is not coded';
  const dmd = codings.filter((c) => c.system === DMD || c.system === SNOMED);
  if (dmd.length === 0) return `is not coded in dm+d (${DMD})`;
  return dmd.some((c) => isSnomedConceptId(c.code))
    ? null
    : `has no valid dm+d concept id (got '${String(dmd[0].code).slice(0, 20)}')`;
}

export function requireCoded(problem: string | null, what: string): void {
  if (problem) throw new FhirError(422, 'INVALID_CODE', `${what} ${problem}`);
}
