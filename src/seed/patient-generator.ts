/**
 * Deterministic synthetic English patients in the shape of NHS PDS FHIR Patient resources (see the
 * fixtures Patient.json / RelatedPerson.json). A patient is a pure function of (seed, index): each
 * one draws from its own small PRNG seeded from both, so output never depends on call order.
 * This file assembles the record; its parts live beside it: generator-random.ts (the PRNG),
 * generator-pools.ts (names, places, ODS codes), generator-dates.ts, generator-nhs-numbers.ts and
 * generator-parts.ts (names, addresses, telecom and related people).
 */
import type {
  Address,
  ContactPoint,
  Extension,
  HumanName,
  Patient,
  Reference,
  RelatedPerson,
} from 'fhir/r4.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../fhir/identifiers.js';
import { dateTime, dayBetween, END_DAY, isoDate } from './generator-dates.js';
import { MAX_PATIENTS_PER_SEED, NhsNumberSequence } from './generator-nhs-numbers.js';
import {
  CODES,
  coding,
  EXT,
  emailPart,
  familyName,
  givenNames,
  homeAddress,
  ODS_DIRECTORY,
  phone,
  prefixFor,
  relatedPerson,
  SECURITY_SYSTEM,
} from './generator-parts.js';
import {
  AREAS,
  EMAIL_DOMAINS,
  GP_PRACTICE_CODES,
  localCode,
  PHARMACY_CODES,
  type Relation,
} from './generator-pools.js';
import { hex8, mix32, Rng } from './generator-random.js';

export interface GeneratedPatient {
  patient: Patient;
  relatedPersons: RelatedPerson[];
}

function build(r: Rng, nhs: string, index: number, key: number): GeneratedPatient {
  const x = r.next();
  const gender = x < 0.49 ? 'male' : x < 0.985 ? 'female' : x < 0.995 ? 'other' : 'unknown';
  let ageYears = r.next() * 100;
  if (ageYears > 70 && r.chance((ageYears - 70) / 32)) ageYears = r.next() * 70; // thin out the very old
  const birth = END_DAY - 1 - Math.floor(ageYears * 365.25);
  const ageInt = Math.floor(ageYears);

  // Names: the current usual name, and for some adults a previous name closed the day before the change.
  const family = familyName(r);
  const given = givenNames(r, gender);
  const prefix = prefixFor(r, gender, ageInt);
  const name: HumanName = {
    id: r.hex8(),
    use: 'usual',
    period: { start: isoDate(birth) },
    given,
    family,
  };
  if (prefix) name.prefix = prefix;
  const names: HumanName[] = [name];
  if (ageInt >= 18 && r.chance(0.0625)) {
    const change = dayBetween(r, birth + 6575, END_DAY);
    name.period = { start: isoDate(change) };
    const old: HumanName = {
      id: r.hex8(),
      use: 'old',
      period: { start: isoDate(birth), end: isoDate(change - 1) },
      given,
      family: familyName(r),
    };
    if (gender === 'female') old.prefix = ['Miss'];
    names.push(old);
  }

  // Addresses: current home, plus sometimes the previous one (usually in the same area).
  const areaIndex = r.int(AREAS.length);
  const moved = r.chance(0.1) && END_DAY - birth > 2;
  const moveIn = moved ? dayBetween(r, birth + 1, END_DAY) : dayBetween(r, birth, END_DAY);
  const home = homeAddress(r, areaIndex, moveIn);
  const addresses: Address[] = [home];
  if (moved)
    addresses.push(
      homeAddress(
        r,
        r.chance(0.7) ? areaIndex : r.int(AREAS.length),
        dayBetween(r, birth, moveIn),
        moveIn - 1,
      ),
    );

  const telecom: ContactPoint[] = [];
  const wantsMobile = ageInt >= 12 && r.chance(0.75);
  if (!wantsMobile || r.chance(0.6))
    telecom.push({
      id: r.hex8(),
      system: 'phone',
      value: phone(r, AREAS[areaIndex].phone),
      use: 'home',
    });
  if (wantsMobile)
    telecom.push({ id: r.hex8(), system: 'phone', value: phone(r, '07700900'), use: 'mobile' });
  if (r.chance(0.6)) {
    const local = `${emailPart(given[0])}.${emailPart(family)}${r.chance(0.5) ? r.int(100) : ''}`;
    telecom.push({
      id: r.hex8(),
      system: 'email',
      value: `${local}@${r.pick(EMAIL_DOMAINS)}`,
      use: 'home',
    });
  }

  const restricted = r.chance(0.005);
  const patient: Patient = {
    resourceType: 'Patient',
    id: nhs,
    identifier: [
      {
        system: NHS_NUMBER_SYSTEM,
        value: nhs,
        extension: [
          {
            url: EXT + 'NHSNumberVerificationStatus',
            valueCodeableConcept: {
              coding: [
                coding(
                  CODES + 'NHSNumberVerificationStatus',
                  '01',
                  'Number present and verified',
                  '1.0.0',
                ),
              ],
            },
          },
        ],
      },
    ],
    meta: {
      security: [
        restricted
          ? coding(SECURITY_SYSTEM, 'R', 'restricted')
          : coding(SECURITY_SYSTEM, 'U', 'unrestricted'),
      ],
    },
    name: names,
    gender,
    birthDate: isoDate(birth),
  };

  const extension: Extension[] = [];
  let death: number | null = null; // days since 1970, so negative before then
  if (r.chance(0.03) && END_DAY - birth > 2) {
    death = END_DAY - 1 - Math.floor(r.next() ** 2 * (END_DAY - birth - 2)); // recent deaths more likely
    patient.deceasedDateTime = dateTime(death, r);
  }
  patient.address = addresses;
  patient.telecom = telecom;
  if (r.chance(0.98)) {
    const gp: Reference = {
      id: r.hex8(),
      type: 'Organization',
      identifier: {
        system: ODS_SYSTEM,
        value: localCode(GP_PRACTICE_CODES, areaIndex, r),
        period: { start: isoDate(dayBetween(r, Math.max(birth, moveIn - 365), END_DAY)) },
      },
    };
    patient.generalPractitioner = [gp];
  }
  if (r.chance(0.4)) {
    const ods = localCode(PHARMACY_CODES, areaIndex, r);
    extension.push({
      url: EXT + 'NominatedPharmacy',
      valueReference: {
        reference: ODS_DIRECTORY + ods,
        identifier: { system: ODS_SYSTEM, value: ods },
      },
    });
  }
  if (death !== null) {
    extension.push({
      url: EXT + 'DeathNotificationStatus',
      extension: [
        {
          url: 'deathNotificationStatus',
          valueCodeableConcept: {
            coding: [
              coding(
                CODES + 'DeathNotificationStatus',
                '2',
                'Formal - death notice received from Registrar of Deaths',
                '1.0.0',
              ),
            ],
          },
        },
        {
          url: 'systemEffectiveDate',
          valueDateTime: dateTime(Math.min(death + r.int(10), END_DAY - 1), r),
        },
      ],
    });
  }
  if (extension.length) patient.extension = extension;

  const relatedPersons: RelatedPerson[] = [];
  if (r.chance(0.3)) {
    const choices: Relation[] =
      ageInt < 18
        ? ['MTH', 'FTH']
        : ageInt < 30
          ? ['MTH', 'FTH', 'SPS', 'SIB', 'FRND']
          : ageInt < 55
            ? ['SPS', 'SPS', 'SIB', 'MTH', 'FRND']
            : ['SPS', 'CHILD', 'CHILD', 'SIB', 'FRND'];
    const count = r.chance(0.3) ? 2 : 1;
    for (let k = 0; k < count; k++) {
      // Bijective in (index, k) for a seed, so RelatedPerson ids never collide within a seed.
      const id = hex8(mix32((((index << 1) | k) ^ key) >>> 0));
      relatedPersons.push(relatedPerson(r, id, nhs, r.pick(choices), family, home, k + 1, birth));
    }
  }
  return { patient, relatedPersons };
}

/**
 * A generator of up to MAX_PATIENTS_PER_SEED (909,091) patients for a seed; generate(index) throws
 * beyond that, as the synthetic 999 range has no more valid NHS Numbers.
 */
export function createPatientGenerator(seed: number): {
  generate(index: number): GeneratedPatient;
} {
  if (!Number.isSafeInteger(seed))
    throw new Error(`patient generator seed must be a safe integer, got ${seed}`);
  const key = mix32((seed >>> 0) ^ 0x5bd1e995) ^ mix32(Math.floor(seed / 4294967296) >>> 0);
  const numbers = new NhsNumberSequence(key);
  return {
    generate(index: number): GeneratedPatient {
      if (!Number.isInteger(index) || index < 0 || index >= MAX_PATIENTS_PER_SEED) {
        const range = `the synthetic 999 range holds ${MAX_PATIENTS_PER_SEED} valid NHS Numbers`;
        throw new Error(
          `patient index ${index} out of range: ${range}, so index must be 0..${MAX_PATIENTS_PER_SEED - 1}`,
        );
      }
      const r = new Rng(mix32(key ^ mix32(index + 0x632be5ab)));
      return build(r, numbers.at(index), index, key);
    },
  };
}
