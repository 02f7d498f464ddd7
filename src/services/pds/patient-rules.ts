import type { Patient } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { today } from './patient-model.js';

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
const GENDERS = new Set(['male', 'female', 'other', 'unknown']);
/**
 * A birth registration takes fewer genders than an update: PDS answers 'other' with INVALID_VALUE
 * (postPatient.feature).
 */
const CREATE_GENDERS = new Set(['male', 'female', 'unknown']);
const TELECOM_SYSTEMS = new Set(['phone', 'fax', 'email', 'pager', 'url', 'sms', 'other']);
/**
 * The shape of a postcode, not the Royal Mail's list: PDS holds postcodes such as 'BAP 4WG' (an outward
 * code of two to four letters and digits, an inward code of three), and 'ZZ99 3VZ' (no fixed abode).
 */
const POSTCODE = /^[A-Z0-9]{2,4} ?[A-Z0-9]{3}$/i;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/;
/** PDS records date-times in UTC: an offset other than zero is refused (addErrors.feature). */
const NON_UTC_OFFSET = /T.*[+-](?!00:00)\d{2}:\d{2}$/;
// control characters are refused in any text value
const UNSUPPORTED_CHARACTERS = /[\u0000-\u001f\u007f]/;
/** Characters PDS refuses in a given or family name (a backtick: postPatient.feature, "O`Brien"). */
const NAME_CHARACTERS = /[`"<>{}[\]\\|^~@#$%*=+_!?;:]/;
const MAX_GIVEN_NAMES = 5;
/**
 * The communication extension, by the end of its URL (records carry the fhir.nhs.uk/R4 and the
 * fhir.hl7.org.uk forms).
 */
const isCommunication = (url: unknown) =>
  typeof url === 'string' && url.endsWith('/Extension-UKCore-NHSCommunication');

const invalid = (code: 'INVALID_VALUE' | 'INVALID_UPDATE' | 'VALIDATION_ERROR', msg: string) =>
  new FhirError(400, code, msg);

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
const shown = (v: unknown) => (typeof v === 'string' ? v : pyRepr(v)).slice(0, 200);

function isRealDate(s: string): boolean {
  const d = new Date(s.slice(0, 10) + 'T00:00:00Z');
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s.slice(0, 10);
}

function checkDate(field: string, value: unknown, withTime = false): string {
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

function checkPeriod(field: string, period: unknown): void {
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

function checkText(path: string, value: unknown): void {
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

function checkList(field: string, value: unknown, max: number): unknown[] {
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

export interface ValidationOptions {
  /** 'create' for a birth registration (its own codes and stricter rules), 'update' (the default) after a patch. */
  mode?: 'create' | 'update';
  /**
   * The record before the patch. When given, only what the patch changed is held to today's rules:
   * a stored element or list item the patch leaves as it was is accepted as PDS holds it.
   */
  before?: Patient;
}

/** The refusal of a business rule: INVALID_CREATE on a birth registration, INVALID_UPDATE on a patch. */
function ruleBroken(mode: 'create' | 'update', why: string): FhirError {
  return mode === 'create'
    ? new FhirError(400, 'INVALID_CREATE', `Invalid patient create data provided - '${why}'`)
    : new FhirError(400, 'INVALID_UPDATE', `Invalid update with error - ${why}`);
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
 * birth registration (mode 'create').
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
  if (changed('gender')) {
    if (p.gender === undefined)
      throw new FhirError(400, 'MISSING_VALUE', "Missing value - 'gender'");
    if (!(mode === 'create' ? CREATE_GENDERS : GENDERS).has(p.gender))
      throw invalid(
        'INVALID_VALUE',
        `Invalid value - '${shown(p.gender).slice(0, 20)}' in field 'gender'`,
      );
  }
  if (changed('birthDate')) {
    if (p.birthDate === undefined)
      throw new FhirError(400, 'MISSING_VALUE', "Missing value - 'birthDate'");
    checkDate('birthDate', p.birthDate);
    if (p.birthDate > today())
      throw invalid('INVALID_VALUE', "Invalid value - 'birthDate' is in the future");
  }
  if (changed('name')) {
    const names = checkList('name', p.name, 20) as NonNullable<Patient['name']>;
    if (names.length === 0)
      throw new FhirError(
        400,
        'TOO_FEW_VALUES_SUBMITTED',
        "Too few values submitted - 'name' needs at least one entry",
      );
    const check = changedItem('name');
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
          throw invalid(
            'INVALID_VALUE',
            `Invalid value - '${n.family}' in field 'name/${i}/family'`,
          );
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
  if (p.deceasedDateTime !== undefined && (changed('deceasedDateTime') || changed('birthDate'))) {
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
  if (
    changed('multipleBirthInteger') &&
    p.multipleBirthInteger !== undefined &&
    (!Number.isInteger(p.multipleBirthInteger) ||
      p.multipleBirthInteger < 1 ||
      p.multipleBirthInteger > 9)
  ) {
    throw invalid('INVALID_VALUE', "Invalid value in field 'multipleBirthInteger'");
  }
  if (changed('address')) {
    const check = changedItem('address');
    (checkList('address', p.address, 20) as NonNullable<Patient['address']>).forEach((a, i) => {
      if (!check(a)) return;
      if (
        a.postalCode !== undefined &&
        (typeof a.postalCode !== 'string' || !POSTCODE.test(a.postalCode.trim()))
      ) {
        throw invalid(
          'INVALID_VALUE',
          `Invalid value - '${shown(a.postalCode).slice(0, 20)}' in field 'address[${i}].postalCode'`,
        );
      }
      if (
        a.line !== undefined &&
        (!Array.isArray(a.line) || a.line.length > 5 || a.line.some((l) => typeof l !== 'string'))
      ) {
        throw invalid(
          'INVALID_VALUE',
          `Invalid value - '${shown(a.line)}' in field 'address/${i}/line'`,
        );
      }
      if (mode === 'create' && a.line !== undefined) {
        // the published update examples hold three-line addresses, so the rule is the birth registration's
        const filled = (n: number) => typeof a.line![n] === 'string' && a.line![n].trim() !== '';
        if (!((filled(0) || filled(1)) && filled(3)))
          throw ruleBroken(mode, 'address lines 1 and 4 or 2 and 4 must be completed as a minimum');
      }
      if (a.extension !== undefined && !Array.isArray(a.extension))
        throw invalid(
          'INVALID_VALUE',
          `Invalid value - '${shown(a.extension)}' in field 'address/${i}/extension'`,
        );
      (a.extension ?? []).forEach((e, j) => {
        if (typeof e?.url !== 'string' || !e.url.endsWith('/Extension-UKCore-AddressKey')) return;
        const sub = e.extension;
        if (!Array.isArray(sub) || sub.length === 0)
          throw new FhirError(
            400,
            'MISSING_VALUE',
            `Missing value - 'address/${i}/extension/${j}/extension'`,
          );
        for (const part of ['type', 'value']) {
          if (!sub.some((s) => s?.url === part))
            throw new FhirError(
              400,
              'MISSING_VALUE',
              `Missing value - 'address/${i}/extension/${j}/extension/${part}'`,
            );
        }
      });
      if (mode === 'create' && a.use === 'temp' && a.period?.end === undefined)
        throw ruleBroken(mode, 'a temporary address must have an end date');
      checkPeriod(`address[${i}]`, a.period);
    });
  }
  if (changed('telecom')) {
    const check = changedItem('telecom');
    (checkList('telecom', p.telecom, 20) as NonNullable<Patient['telecom']>).forEach((t, i) => {
      if (!check(t)) return;
      if (!t.system || !TELECOM_SYSTEMS.has(t.system))
        throw invalid(
          'INVALID_VALUE',
          `Invalid value - '${shown(t.system).slice(0, 20)}' in field 'telecom[${i}].system'`,
        );
      if (typeof t.value !== 'string' || !t.value.trim())
        throw new FhirError(400, 'MISSING_VALUE', `Missing value - 'telecom[${i}].value'`);
      if (t.system === 'email' && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(t.value)) {
        if (mode === 'create') throw ruleBroken(mode, 'email format is invalid');
        throw invalid(
          'INVALID_VALUE',
          `Invalid value - '${t.value.slice(0, 60)}' in field 'telecom[${i}].value'`,
        );
      }
      checkPeriod(`telecom[${i}]`, t.period);
    });
  }
  if (changed('generalPractitioner')) {
    (
      checkList('generalPractitioner', p.generalPractitioner, 1) as NonNullable<
        Patient['generalPractitioner']
      >
    ).forEach((g, i) => {
      const ods = g.identifier?.value;
      if (typeof ods !== 'string' || !/^[A-Z0-9]{3,8}$/i.test(ods))
        throw invalid(
          'INVALID_VALUE',
          `Invalid value in field 'generalPractitioner[${i}].identifier.value' (an ODS code)`,
        );
    });
  }
  if (changed('contact')) checkList('contact', p.contact, 20);
  if (changed('extension')) {
    const check = changedItem('extension');
    checkList('extension', p.extension, 50).forEach((e, i) => {
      if (!check(e)) return;
      const ext = e as { url?: unknown; extension?: Array<{ url?: unknown }> };
      if (typeof ext.url !== 'string')
        throw new FhirError(400, 'MISSING_VALUE', `Missing value - 'extension[${i}].url'`);
      if (isCommunication(ext.url) && Array.isArray(ext.extension)) {
        const had = (opts.before?.extension ?? []).some(
          (x) =>
            isCommunication(x?.url) && x.extension?.some((s) => s?.url === 'interpreterRequired'),
        );
        if (had && !ext.extension.some((s) => s?.url === 'interpreterRequired'))
          throw ruleBroken(mode, 'interpreterRequired cannot be removed');
        ext.extension.forEach((s, j) => {
          if (s?.url !== 'language' && s?.url !== 'interpreterRequired')
            throw invalid(
              'INVALID_VALUE',
              `Invalid value - '${shown(s?.url)}' in field 'extension/${i}/extension/${j}/url'`,
            );
        });
      }
    });
  }
}
