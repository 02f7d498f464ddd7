/**
 * The rules on who the person is: gender, birth date, names, date of death and birth order. Each check
 * runs only when validatePatient (patient-rules.ts) finds the element changed, so a stored record the
 * patch leaves alone is accepted as PDS holds it.
 */
import type { Patient } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { today } from './patient-model.js';
import {
  checkDate,
  checkList,
  checkPeriod,
  invalid,
  pyRepr,
  ruleBroken,
  shown,
} from './patient-value-rules.js';

const GENDERS = new Set(['male', 'female', 'other', 'unknown']);
/**
 * A birth registration takes fewer genders than an update: PDS answers 'other' with INVALID_VALUE
 * (postPatient.feature).
 */
const CREATE_GENDERS = new Set(['male', 'female', 'unknown']);
/** PDS records date-times in UTC: an offset other than zero is refused (addErrors.feature). */
const NON_UTC_OFFSET = /T.*[+-](?!00:00)\d{2}:\d{2}$/;
/** Characters PDS refuses in a given or family name (a backtick: postPatient.feature, "O`Brien"). */
const NAME_CHARACTERS = /[`"<>{}[\]\\|^~@#$%*=+_!?;:]/;
const MAX_GIVEN_NAMES = 5;

export function checkGender(p: Patient, mode: 'create' | 'update'): void {
  if (p.gender === undefined) throw new FhirError(400, 'MISSING_VALUE', "Missing value - 'gender'");
  if (!(mode === 'create' ? CREATE_GENDERS : GENDERS).has(p.gender))
    throw invalid(
      'INVALID_VALUE',
      `Invalid value - '${shown(p.gender).slice(0, 20)}' in field 'gender'`,
    );
}

export function checkBirthDate(p: Patient): void {
  if (p.birthDate === undefined)
    throw new FhirError(400, 'MISSING_VALUE', "Missing value - 'birthDate'");
  checkDate('birthDate', p.birthDate);
  if (p.birthDate > today())
    throw invalid('INVALID_VALUE', "Invalid value - 'birthDate' is in the future");
}

/** The names: at least one, each well formed; `check` picks the items to hold to the rules. */
export function checkNames(
  p: Patient,
  mode: 'create' | 'update',
  check: (item: unknown) => boolean,
): void {
  const names = checkList('name', p.name, 20) as NonNullable<Patient['name']>;
  if (names.length === 0)
    throw new FhirError(
      400,
      'TOO_FEW_VALUES_SUBMITTED',
      "Too few values submitted - 'name' needs at least one entry",
    );
  names.forEach((n, i) => {
    if (!check(n)) return;
    if (n.family !== undefined && typeof n.family !== 'string')
      throw invalid(
        'INVALID_VALUE',
        `Invalid value - '${shown(n.family)}' in field 'name/${i}/family'`,
      );
    // given, prefix and suffix are lists of strings in a FHIR HumanName ("prefix": "Dr" is not one)
    for (const list of ['given', 'prefix', 'suffix'] as const) {
      const v = n[list] as unknown;
      if (v !== undefined && (!Array.isArray(v) || v.some((g) => typeof g !== 'string')))
        throw invalid(
          'INVALID_VALUE',
          `Invalid value - '${shown(v)}' in field 'name/${i}/${list}'`,
        );
    }
    if (n.given && n.given.length > MAX_GIVEN_NAMES) {
      throw new FhirError(
        400,
        'TOO_MANY_VALUES_SUBMITTED',
        `Too many values submitted - ${pyRepr(n.given)} in field 'name/${i}/given'`,
      );
    }
    if (mode === 'create') {
      const bad = n.given?.find((g) => NAME_CHARACTERS.test(g));
      if (bad !== undefined)
        throw invalid('INVALID_VALUE', `Invalid value - '${bad}' in field 'name/${i}/given'`);
      if (n.family !== undefined && NAME_CHARACTERS.test(n.family))
        throw invalid('INVALID_VALUE', `Invalid value - '${n.family}' in field 'name/${i}/family'`);
      if (n.use === 'usual' && n.period?.end !== undefined)
        throw ruleBroken(mode, 'An end date can not be provided on usual name');
    }
    if (!n.family && !n.given?.length)
      throw new FhirError(
        400,
        'MISSING_VALUE',
        `Missing value - 'name[${i}]' needs a family or given name`,
      );
    checkPeriod(`name[${i}]`, n.period);
  });
}

/** A date of death: a real date-time in UTC, not before the birth and not in the future. */
export function checkDeathDate(p: Patient): void {
  const d = checkDate('deceasedDateTime', p.deceasedDateTime, true);
  if (NON_UTC_OFFSET.test(d))
    throw invalid(
      'INVALID_VALUE',
      `Invalid value - '${d.slice(0, 40)}' in field 'deceasedDateTime'`,
    );
  if (p.birthDate && d.slice(0, 10) < p.birthDate)
    throw invalid(
      'INVALID_UPDATE',
      'Invalid update with error - deceasedDateTime is before birthDate',
    );
  if (new Date(d).getTime() > Date.now() + 60_000)
    throw invalid(
      'INVALID_UPDATE',
      'Invalid update with error - deceasedDateTime is in the future',
    );
}

export function checkMultipleBirth(p: Patient): void {
  if (
    p.multipleBirthInteger !== undefined &&
    (!Number.isInteger(p.multipleBirthInteger) ||
      p.multipleBirthInteger < 1 ||
      p.multipleBirthInteger > 9)
  ) {
    throw invalid('INVALID_VALUE', "Invalid value in field 'multipleBirthInteger'");
  }
}
