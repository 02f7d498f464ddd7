/**
 * The parts a generated patient is built from: names, titles, home addresses, phone numbers and
 * related people, each drawn from the reference pools with the patient's own PRNG, plus the PDS
 * code systems and URLs they carry. The record builder (patient-generator.ts) assembles them.
 */
import type { Address, RelatedPerson } from 'fhir/r4.js';
import { NHS_NUMBER_SYSTEM } from '../fhir/identifiers.js';
import { dayBetween, END_DAY, isoDate } from './generator-dates.js';
import {
  AREAS,
  FAMILY,
  FEMALE,
  INWARD_LETTERS,
  LOCALITIES,
  MALE,
  RELATIONS,
  STREET_SUFFIXES,
  STREETS,
  type Relation,
} from './generator-pools.js';
import { digits3, type Rng } from './generator-random.js';

export const SECURITY_SYSTEM = 'https://www.hl7.org/fhir/valueset-security-labels.html';
export const PDS_PATIENT_URL = 'https://api.service.nhs.uk/personal-demographics/FHIR/R4/Patient/';
export const EXT = 'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-';
export const CODES = 'https://fhir.nhs.uk/R4/CodeSystem/UKCore-';
export const ODS_DIRECTORY = 'https://directory.spineservices.nhs.uk/STU3/Organization/';
const ROLE_CODES = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';

export const coding = (system: string, code: string, display: string, version?: string) =>
  version ? { system, version, code, display } : { system, code, display };

export function familyName(r: Rng): string {
  return r.chance(0.03) ? `${r.pick(FAMILY)}-${r.pick(FAMILY)}` : r.pick(FAMILY);
}

export function givenNames(r: Rng, gender: string): string[] {
  const list =
    gender === 'male' ? MALE : gender === 'female' ? FEMALE : r.chance(0.5) ? MALE : FEMALE;
  const first = r.pick(list);
  if (!r.chance(0.4)) return [first];
  const second = r.pick(list);
  return second === first ? [first] : [first, second];
}

/** Children carry no title, as in most PDS records; 'other'/'unknown' get Mx half the time. */
export function prefixFor(r: Rng, gender: string, ageYears: number): string[] | undefined {
  if (ageYears < 16) return undefined;
  if (ageYears >= 26 && r.chance(0.02)) return ['Dr'];
  if (gender === 'male') return ['Mr'];
  const x = r.next();
  if (gender !== 'female') return x < 0.5 ? ['Mx'] : undefined;
  return [ageYears < 25 ? (x < 0.7 ? 'Miss' : 'Ms') : x < 0.55 ? 'Mrs' : x < 0.8 ? 'Ms' : 'Miss'];
}

export function homeAddress(r: Rng, areaIndex: number, start: number, end?: number): Address {
  const area = AREAS[areaIndex];
  const line: string[] = [];
  if (r.chance(0.08)) line.push(`Flat ${1 + r.int(40)}`);
  const street = r.chance(0.2)
    ? `${r.pick(FAMILY).replace(/'/g, '')} ${r.pick(STREET_SUFFIXES)}`
    : r.pick(STREETS);
  line.push(`${1 + Math.floor(r.next() ** 2 * 250)} ${street}`);
  if (r.chance(0.6)) line.push(r.pick(LOCALITIES));
  line.push(area.town);
  if (area.county) line.push(area.county);
  const postalCode = `${area.code}${r.pick(area.districts)} ${r.int(10)}${r.pick(INWARD_LETTERS)}${r.pick(INWARD_LETTERS)}`;
  const period =
    end === undefined ? { start: isoDate(start) } : { start: isoDate(start), end: isoDate(end) };
  return { id: r.hex8(), period, use: 'home', line, postalCode };
}

export const phone = (r: Rng, prefix: string): string => prefix + digits3(r);
export const emailPart = (s: string): string => s.toLowerCase().replace(/[^a-z-]/g, '');

export function relatedPerson(
  r: Rng,
  id: string,
  nhs: string,
  rel: Relation,
  family: string,
  home: Address,
  rank: number,
  birth: number,
): RelatedPerson {
  const gender =
    rel === 'MTH' ? 'female' : rel === 'FTH' ? 'male' : r.chance(0.5) ? 'female' : 'male';
  const sameFamily = rel !== 'FRND' && r.chance(rel === 'SPS' ? 0.7 : 0.85);
  const person: RelatedPerson = {
    id,
    resourceType: 'RelatedPerson',
    patient: {
      type: 'Patient',
      identifier: { system: NHS_NUMBER_SYSTEM, value: nhs },
      reference: PDS_PATIENT_URL + nhs,
    },
    active: true,
    period: { start: isoDate(dayBetween(r, birth, END_DAY)) },
    name: [
      {
        use: 'usual',
        given: [r.pick(gender === 'male' ? MALE : FEMALE)],
        family: sameFamily ? family : familyName(r),
        prefix: [gender === 'male' ? 'Mr' : r.pick(['Mrs', 'Ms', 'Miss'])],
      },
    ],
    telecom: [{ system: 'phone', value: phone(r, '07700900'), use: 'mobile' }],
    relationship: [{ coding: [coding(ROLE_CODES, rel, RELATIONS[rel])] }],
    extension: [{ url: EXT + 'ContactRank', valuePositiveInt: rank }],
  };
  // Household members usually share the patient's current address.
  if (rel !== 'FRND' && rel !== 'CHILD' && r.chance(0.7)) {
    person.address = [
      {
        period: { ...home.period },
        use: 'home',
        line: [...home.line!],
        postalCode: home.postalCode,
      },
    ];
  }
  return person;
}
