/** NHS Number rules: 10 digits, the last a modulus-11 check digit over the first nine. */
import { FhirError, type IssueOverride, type SpineCode } from './errors.js';

const WEIGHTS = [10, 9, 8, 7, 6, 5, 4, 3, 2];

/** The check digit for nine leading digits, or null when that stem cannot carry a valid number. */
export function checkDigitFor(stem: string): number | null {
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (stem.charCodeAt(i) - 48) * WEIGHTS[i];
  const check = 11 - (sum % 11);
  if (check === 11) return 0;
  if (check === 10) return null; // stems giving 10 are never issued
  return check;
}

export function isValidNhsNumber(value: unknown): boolean {
  if (typeof value !== 'string' || !/^[0-9]{10}$/.test(value)) return false;
  return checkDigitFor(value.slice(0, 9)) === value.charCodeAt(9) - 48;
}

/** How a site words its refusal of an invalid NHS Number, where it differs from the default. */
export interface NhsNumberRefusal {
  /** The Spine code; INVALID_RESOURCE_ID unless given. */
  code?: SpineCode;
  /** The diagnostics, as text or from the offending value (its first 20 characters). */
  diagnostics?: string | ((shown: string) => string);
  /** Overrides of the OperationOutcome issue (severity, code). */
  issue?: IssueOverride;
}

/**
 * The value as a valid NHS Number, or the one 400 refusal of it. The diagnostics name the field
 * when one is given (`<field> must carry a valid NHS Number`), otherwise the value itself
 * (`Invalid resource ID - NHS Number '<value>' is not valid`); `refusal` keeps a site's own wording.
 */
export function requireNhsNumber(
  value: unknown,
  field?: string,
  refusal: NhsNumberRefusal = {},
): string {
  if (isValidNhsNumber(value)) return value as string;
  const shown = String(value).slice(0, 20);
  const { code = 'INVALID_RESOURCE_ID', diagnostics, issue = {} } = refusal;
  const text =
    typeof diagnostics === 'string'
      ? diagnostics
      : diagnostics
        ? diagnostics(shown)
        : field !== undefined
          ? `${field} must carry a valid NHS Number`
          : `Invalid resource ID - NHS Number '${shown}' is not valid`;
  throw new FhirError(400, code, text, {}, issue);
}

/**
 * Turns a 9-digit stem in the synthetic 999 range into a valid NHS Number, or null when the stem
 * has no check digit. 999xxxxxxx numbers are reserved for test data and never issued to patients.
 */
export function nhsNumberFromStem(stem: string): string | null {
  const check = checkDigitFor(stem);
  return check === null ? null : stem + String(check);
}

/** A random valid number in the synthetic 999 range from the given random source (0 <= r < 1). */
export function randomSyntheticNhsNumber(random: () => number): string {
  for (;;) {
    const stem = '999' + String(Math.floor(random() * 1_000_000)).padStart(6, '0');
    const n = nhsNumberFromStem(stem);
    if (n) return n;
  }
}
