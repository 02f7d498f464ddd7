import type { Patient } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import {
  checkAddresses,
  checkExtensions,
  checkGeneralPractitioner,
  checkTelecoms,
} from './patient-contact-rules.js';
import {
  checkBirthDate,
  checkDeathDate,
  checkGender,
  checkMultipleBirth,
  checkNames,
} from './patient-person-rules.js';
import { checkList, checkText, invalid } from './patient-value-rules.js';

/** The elements a PDS Patient may carry; anything else is refused as an additional property. */
export const PATIENT_ELEMENTS = new Set([
  'resourceType',
  'id',
  'meta',
  'identifier',
  'name',
  'gender',
  'birthDate',
  'deceasedDateTime',
  'multipleBirthInteger',
  'address',
  'telecom',
  'contact',
  'generalPractitioner',
  'managingOrganization',
  'extension',
  'link',
]);

export interface ValidationOptions {
  /** 'create' for a birth registration (its own codes and stricter rules), 'update' (the default) after a patch. */
  mode?: 'create' | 'update';
  /**
   * The record before the patch. When given, only what the patch changed is held to today's rules:
   * a stored element or list item the patch leaves as it was is accepted as PDS holds it.
   */
  before?: Patient;
}

/** A birth registration's required elements, in the order PDS reports the first one missing. */
function checkCreateRequired(p: Patient): void {
  const missing = (field: string) =>
    new FhirError(400, 'MISSING_VALUE', `Missing value - '${field}'`);
  const empty = (v: unknown) =>
    v === undefined || v === null || (Array.isArray(v) && v.length === 0);
  if (empty(p.name)) throw missing('name');
  if (empty(p.address)) throw missing('address');
  if (empty(p.gender)) throw missing('gender');
  if (empty(p.birthDate)) throw missing('birthDate');
  if (Array.isArray(p.address)) {
    p.address.forEach((a, i) => {
      if (a && typeof a === 'object' && !Array.isArray(a) && a.period === undefined)
        throw missing(`address/${i}/period`);
    });
  }
}

/**
 * Checks that a document is a Patient PDS can hold: known elements only, well-formed values,
 * consistent dates, at least one name. Used after every patch (with `before`, on what changed) and on
 * birth registration (mode 'create'). The element rules live in patient-person-rules.ts and
 * patient-contact-rules.ts; this keeps the order in which PDS reports the first fault.
 */
export function validatePatient(p: Patient, opts: ValidationOptions = {}): void {
  const mode = opts.mode ?? 'update';
  const before = opts.before as Record<string, unknown> | undefined;
  const doc = p as unknown as Record<string, unknown>;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  /** Whether a top-level element is to be checked: always without `before`, else only when the patch changed it. */
  const changed = (key: string) => !before || !same(before[key], doc[key]);
  /** The items of a list to check: all, or those that are not, unchanged, in the stored record. */
  const changedItem = (key: string) => {
    const old =
      before && Array.isArray(before[key])
        ? new Set((before[key] as unknown[]).map((x) => JSON.stringify(x)))
        : undefined;
    return (item: unknown) => !old || !old.has(JSON.stringify(item));
  };

  if (mode === 'create') checkCreateRequired(p);
  for (const key of Object.keys(doc)) {
    if (!PATIENT_ELEMENTS.has(key))
      throw new FhirError(
        400,
        'ADDITIONAL_PROPERTIES',
        `Invalid update with error - Update unsupported for resource - '${key.slice(0, 60)}'`,
      );
  }
  for (const key of Object.keys(doc)) if (changed(key)) checkText(key, doc[key]);
  if (p.resourceType !== 'Patient')
    throw invalid('INVALID_VALUE', "Invalid value in field 'resourceType'");

  // gender and birth date first: PDS reports a bad birthDate before the name period that repeats it
  // (postPatient.feature)
  if (changed('gender')) checkGender(p, mode);
  if (changed('birthDate')) checkBirthDate(p);
  if (changed('name')) checkNames(p, mode, changedItem('name'));
  if (p.deceasedDateTime !== undefined && (changed('deceasedDateTime') || changed('birthDate')))
    checkDeathDate(p);
  if (changed('multipleBirthInteger')) checkMultipleBirth(p);
  if (changed('address')) checkAddresses(p, mode, changedItem('address'));
  if (changed('telecom')) checkTelecoms(p, mode, changedItem('telecom'));
  if (changed('generalPractitioner')) checkGeneralPractitioner(p);
  if (changed('contact')) checkList('contact', p.contact, 20);
  if (changed('extension')) checkExtensions(p, mode, changedItem('extension'), opts.before);
}
