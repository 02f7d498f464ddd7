import type { Address, Extension, HumanName, Patient } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { today } from './patient-model.js';
import { validatePatient } from './patient-rules.js';
import { PublishedError } from './published-errors.js';
import { NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';

/**
 * What a maternity system's birth notification (a transaction Bundle posted to
 * Patient/$process-birth-details) must hold, with PDS's published codes and wording. Paths in
 * diagnostics are written as PDS writes them ('entry/0/resource/name/0/use'); a few values PDS
 * names by field alone ('gender', 'birthDate').
 */

const SNOMED = 'http://snomed.info/sct';
export const BIRTH_WEIGHT = '364589006';
export const STILLBIRTH = '237364002';
export const ETHNIC_CATEGORY_URL =
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory';
export const BIRTH_PLACE_URL = 'http://hl7.org/fhir/StructureDefinition/patient-birthPlace';
export const DEATH_NOTIFICATION_URLS = new Set([
  'https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-DeathNotificationStatus',
  'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-DeathNotificationStatus',
]);
/**
 * Live birth (1) or stillbirth before (2), during (3) or after the onset of labour (4): the NHS
 * Data Dictionary's live or still birth indicator.
 */
const BIRTH_INDICATORS = new Set(['1', '2', '3', '4']);
const BABY_GENDERS = new Set(['male', 'female', 'unknown']);
/** Letters (with accents), spaces, hyphens, apostrophes and full stops: what a name may be written with. */
const NAME_TEXT = /^[A-Za-z\u00C0-\u024F' .-]+$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A birth notification checked and reduced to what PDS keeps. */
export interface BirthDetails {
  /** The baby's record as it will be stored (no id, identifier or meta yet). */
  baby: Patient;
  motherNhsNumber: string;
  /** Where in the Bundle the mother's NHS Number was given, for diagnostics. */
  motherPath: string;
  birthWeightGrams: number;
  /** Live or still birth indicator (1-4). */
  birthIndicator: string;
  birthTime?: string;
}

const missing = (path: string) => new FhirError(400, 'MISSING_VALUE', `Missing value - '${path}'`);
const invalid = (value: unknown, path: string) =>
  new FhirError(
    400,
    'INVALID_VALUE',
    `Invalid value - '${String(typeof value === 'object' ? JSON.stringify(value) : value).slice(0, 100)}' in field '${path}'`,
  );
const invalidCreate = (why: string) =>
  new FhirError(400, 'INVALID_CREATE', `Invalid patient create data provided - '${why}'`);
const TOO_FEW_ENTRIES = new FhirError(
  400,
  'TOO_FEW_VALUES_SUBMITTED',
  "Too few values submitted - <json too long to display> in field 'entry'",
);

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const hasCode = (resource: Json, code: string) =>
  isObject(resource.code) &&
  Array.isArray(resource.code.coding) &&
  resource.code.coding.some((c) => isObject(c) && c.system === SNOMED && c.code === code);

/** The published answer to a stillbirth indicator that disagrees with the death details given. */
export function birthDeathInconsistent(): PublishedError {
  return new PublishedError(400, 'INVALID_CREATE', {
    code: 'INSERT_BIRTH_DEATH_STATUS_INCONSISTENT',
    display: 'INSERT_BIRTH_DEATH_STATUS_INCONSISTENT',
    issueCode: 'processing',
    diagnostics: 'Insert Birth - Death Status Inconsistent',
  });
}

function checkName(name: unknown, path: string): HumanName {
  if (!isObject(name)) throw invalid(name, path);
  if (name.use === undefined || name.use === null || name.use === '') throw missing(`${path}/use`);
  if (name.use !== 'usual') throw invalid(name.use, `${path}/use`);
  if (!Array.isArray(name.given)) {
    if (name.given === undefined) throw missing(`${path}/given`);
    throw invalid(name.given, `${path}/given`);
  }
  if (name.given.length === 0) throw missing(`${path}/given`);
  for (const given of name.given)
    if (typeof given !== 'string' || !NAME_TEXT.test(given)) throw invalid(given, `${path}/given`);
  if (name.family === undefined || name.family === '') throw missing(`${path}/family`);
  if (typeof name.family !== 'string' || !NAME_TEXT.test(name.family))
    throw invalid(name.family, `${path}/family`);
  if (isObject(name.period) && name.period.end !== undefined)
    throw invalidCreate('An end date can not be provided on usual name');
  return name as HumanName;
}

function checkAddress(address: unknown, path: string): Address {
  if (!isObject(address)) throw invalid(address, path);
  const line = address.line;
  if (!Array.isArray(line) || line.some((l) => typeof l !== 'string'))
    throw invalid(line, `${path}/line`);
  const filled = (i: number) => typeof line[i] === 'string' && (line[i] as string).trim() !== '';
  if (!((filled(0) && filled(3)) || (filled(1) && filled(3))))
    throw invalidCreate('address lines 1 and 4 or 2 and 4 must be completed as a minimum');
  // PDS keeps the lines given and drops the blank ones
  return { ...(address as Address), line: (line as string[]).filter((l) => l.trim() !== '') };
}

function codeOf(resource: Json): unknown {
  const concept = resource.valueCodeableConcept;
  return isObject(concept) && Array.isArray(concept.coding) && isObject(concept.coding[0])
    ? concept.coding[0].code
    : undefined;
}

/** Checks a birth notification; the first rule broken is refused. */
export function parseBirthDetails(body: unknown): BirthDetails {
  if (!isObject(body) || body.resourceType !== 'Bundle')
    throw new FhirError(
      400,
      'INVALID_VALUE',
      "Invalid value - the body must be a Bundle of type 'transaction'",
    );
  if (body.type !== 'transaction') throw invalid(body.type, 'type');
  if (!Array.isArray(body.entry)) throw missing('entry');
  const entries = body.entry.map((e, i) => {
    if (!isObject(e) || !isObject(e.resource)) throw invalid(e, `entry/${i}`);
    return e.resource;
  });
  const find = (test: (r: Json) => boolean) => entries.findIndex(test);
  // the baby is the Patient the notification names no NHS Number for; the mother is the Patient it does
  const bi = find((r) => r.resourceType === 'Patient' && !Array.isArray(r.identifier));
  const mi = find((r) => r.resourceType === 'Patient' && Array.isArray(r.identifier));
  const wi = find((r) => r.resourceType === 'Observation' && hasCode(r, BIRTH_WEIGHT));
  const si = find((r) => r.resourceType === 'Observation' && hasCode(r, STILLBIRTH));
  const li = find((r) => r.resourceType === 'Location');
  if ([bi, mi, wi, si, li].some((i) => i < 0)) throw TOO_FEW_ENTRIES;

  const baby = entries[bi];
  const p = `entry/${bi}/resource`;
  if (baby.name === undefined) throw missing(`${p}/name`);
  if (!Array.isArray(baby.name) || baby.name.length === 0) throw invalid(baby.name, `${p}/name`);
  const names = baby.name.map((n, i) => checkName(n, `${p}/name/${i}`));
  if (baby.gender === undefined || baby.gender === null || baby.gender === '')
    throw missing(`${p}/gender`);
  if (typeof baby.gender !== 'string' || !BABY_GENDERS.has(baby.gender))
    throw invalid(baby.gender, 'gender');
  if (baby.birthDate === undefined || baby.birthDate === null || baby.birthDate === '')
    throw missing(`${p}/birthDate`);
  const birthDate = baby.birthDate;
  if (
    typeof birthDate !== 'string' ||
    !DATE.test(birthDate) ||
    Number.isNaN(Date.parse(`${birthDate}T00:00:00Z`)) ||
    new Date(`${birthDate}T00:00:00Z`).toISOString().slice(0, 10) !== birthDate ||
    birthDate > today()
  )
    throw invalid(birthDate, 'birthDate');
  if (baby.address === undefined) throw missing(`${p}/address`);
  if (!Array.isArray(baby.address) || baby.address.length === 0)
    throw invalid(baby.address, `${p}/address`);
  const addresses = baby.address.map((a, i) => checkAddress(a, `${p}/address/${i}`));
  const order = baby.multipleBirthInteger;
  if (
    order !== undefined &&
    (typeof order !== 'number' || !Number.isInteger(order) || order < 1 || order > 9)
  )
    throw invalid(order, `${p}/multipleBirthInteger`);
  if (baby.extension !== undefined && !Array.isArray(baby.extension))
    throw invalid(baby.extension, `${p}/extension`);
  const extensions = (baby.extension ?? []) as Extension[];
  if (!extensions.some((e) => isObject(e) && e.url === ETHNIC_CATEGORY_URL))
    throw new FhirError(
      400,
      'MISSING_VALUE',
      `Missing value - 'Extension-UKCore-EthnicCategory' in field '${p}/extension'`,
    );
  const birthTimeExt =
    isObject(baby._birthDate) && Array.isArray(baby._birthDate.extension)
      ? baby._birthDate.extension.find(
          (e) =>
            isObject(e) && e.url === 'http://hl7.org/fhir/StructureDefinition/patient-birthTime',
        )
      : undefined;
  const birthTime =
    isObject(birthTimeExt) && typeof birthTimeExt.valueDateTime === 'string'
      ? birthTimeExt.valueDateTime
      : undefined;

  const weightPath = `entry/${wi}/resource/valueQuantity/value`;
  const quantity = entries[wi].valueQuantity;
  const weight = isObject(quantity) ? quantity.value : undefined;
  if (weight === undefined || weight === null) throw missing(weightPath);
  if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 1 || weight > 9999)
    throw invalid(weight, weightPath);

  const indicator = codeOf(entries[si]);
  const indicatorPath = `entry/${si}/resource/valueCodeableConcept/coding/0/code`;
  if (indicator === undefined || indicator === null || indicator === '')
    throw missing(indicatorPath);
  if (typeof indicator !== 'string' || !BIRTH_INDICATORS.has(indicator))
    throw invalid(indicator, indicatorPath);

  const motherPath = `entry/${mi}/resource/identifier/0/value`;
  const motherId = (entries[mi].identifier as unknown[])[0];
  const mother = isObject(motherId) ? motherId.value : undefined;
  if (mother === undefined || mother === null || mother === '') throw missing(motherPath);
  if (isObject(motherId) && motherId.system !== undefined && motherId.system !== NHS_NUMBER_SYSTEM)
    throw invalid(motherId.system, `entry/${mi}/resource/identifier/0/system`);
  if (typeof mother !== 'string' || !isValidNhsNumber(mother)) throw invalid(mother, motherPath);

  // a stillbirth (indicator 2-4) is a death at birth, and only a stillbirth is
  const dead =
    baby.deceasedDateTime !== undefined ||
    extensions.some((e) => isObject(e) && DEATH_NOTIFICATION_URLS.has(String(e.url)));
  if (dead !== (indicator !== '1')) throw birthDeathInconsistent();

  const record: Patient = {
    resourceType: 'Patient',
    name: names,
    gender: baby.gender as Patient['gender'],
    birthDate,
    address: addresses,
    ...(order !== undefined ? { multipleBirthInteger: order as number } : {}),
    ...(baby.deceasedDateTime !== undefined
      ? { deceasedDateTime: baby.deceasedDateTime as string }
      : {}),
    ...(baby.telecom !== undefined ? { telecom: baby.telecom as Patient['telecom'] } : {}),
    extension: extensions,
  };
  // everything else a PDS record must satisfy (postcodes, periods, text, dates of death)
  validatePatient(record);
  return {
    baby: record,
    motherNhsNumber: mother,
    motherPath,
    birthWeightGrams: weight,
    birthIndicator: indicator,
    birthTime,
  };
}
