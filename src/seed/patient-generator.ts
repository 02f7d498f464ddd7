/**
 * Deterministic synthetic English patients in the shape of NHS PDS FHIR Patient resources (see the
 * fixtures Patient.json / RelatedPerson.json). A patient is a pure function of (seed, index): each
 * one draws from its own small PRNG seeded from both, so output never depends on call order, and
 * the facts shared with its household from a PRNG seeded by the household (generator-households.ts).
 * A few records are superseded duplicates of the member before them, linked both ways as a merge
 * leaves them. This file assembles the record; its parts live beside it: generator-random.ts (the
 * PRNG), generator-pools.ts (names, places, ODS codes), generator-dates.ts, generator-nhs-numbers.ts
 * and generator-parts.ts (names, addresses, telecom and related people).
 */
import type {
  Address,
  ContactPoint,
  Extension,
  HumanName,
  Patient,
  PatientLink,
  Reference,
  RelatedPerson,
} from 'fhir/r4.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../fhir/identifiers.js';
import { dateTime, dayBetween, END_DAY, isoDate } from './generator-dates.js';
import {
  MAX_PATIENTS_PER_SEED,
  NationalNumberBlock,
  NhsNumberSequence,
} from './generator-nhs-numbers.js';
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
import {
  birthDay,
  type Household,
  householdFacts,
  householdSlot,
  memberAge,
  memberFamily,
  memberGender,
  memberMoveIn,
  roleOf,
} from './generator-households.js';
import { hex8, mix32, Rng } from './generator-random.js';

export interface GeneratedPatient {
  patient: Patient;
  relatedPersons: RelatedPerson[];
}

/** What build() needs besides the index: the seed's key, its block's size and any index's number. */
interface BuildContext {
  key: number;
  limit: number;
  numberOf: (index: number) => string;
}

const personRng = (key: number, index: number) => new Rng(mix32(key ^ mix32(index + 0x632be5ab)));

/**
 * About 0.1% of records are superseded duplicates of the household member just before them (PDS
 * holds such pairs after a merge). A hash of the index makes it a candidate; a candidate right
 * after another is not, so a survivor is never itself superseded.
 */
const MERGE_CANDIDATE = Math.floor(0.002 * 4294967296);
const mergeCandidate = (key: number, index: number) =>
  mix32(key ^ mix32((index ^ 0x3c6ef372) >>> 0)) < MERGE_CANDIDATE;

/** The link the platform writes on a merge (patient-merge.ts), pointing at another index's record. */
const mergeLink = (type: 'replaces' | 'replaced-by', nhs: string): PatientLink => ({
  type,
  other: { reference: `Patient/${nhs}`, identifier: { system: NHS_NUMBER_SYSTEM, value: nhs } },
});

function build(ctx: BuildContext, index: number): GeneratedPatient {
  const { key } = ctx;
  const slot = householdSlot(key, index);
  const household = householdFacts(key, slot);
  const nhs = ctx.numberOf(index);
  const candidate = mergeCandidate(key, index);
  if (slot.rank >= 1 && candidate && !mergeCandidate(key, index - 1)) {
    // A duplicate: the previous member's demographics under this record's own number and ids.
    const survivor = ctx.numberOf(index - 1);
    const made = person(personRng(key, index - 1), household, slot.rank - 1, nhs, index, key);
    varyDuplicate(made.patient, personRng(key, index));
    made.patient.link = [mergeLink('replaced-by', survivor)];
    return made;
  }
  const made = person(personRng(key, index), household, slot.rank, nhs, index, key);
  const next = index + 1;
  if (!candidate && slot.rank + 1 < slot.size && next < ctx.limit && mergeCandidate(key, next))
    made.patient.link = [mergeLink('replaces', ctx.numberOf(next))];
  return made;
}

/** A duplicate record is the same person registered again, with a detail or two different. */
function varyDuplicate(p: Patient, r: Rng): void {
  const usual = p.name![0];
  usual.id = r.hex8();
  p.address![0].id = r.hex8();
  const kind = r.int(3);
  if (kind === 0 && usual.given!.length > 1) usual.given = [usual.given![0]];
  else if (kind <= 1) p.telecom = p.telecom!.slice(0, 1);
  else delete p.generalPractitioner;
}

function person(
  r: Rng,
  household: Household,
  rank: number,
  nhs: string,
  index: number,
  key: number,
): GeneratedPatient {
  const role = roleOf(household.kind, rank);
  const gender = memberGender(household, role, r);
  const ageYears = memberAge(household, role, r);
  const birth = birthDay(ageYears);
  const ageInt = Math.floor(ageYears);

  // Names: the current usual name, and for some adults a previous name closed the day before the change.
  const family = memberFamily(household, role, r);
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

  // Addresses: the household's home, plus sometimes a previous one (usually in the same area).
  const areaIndex = household.areaIndex;
  const moveIn = memberMoveIn(household, role, birth, r);
  const home = household.home; // built afresh for each call, so this record may own it
  home.id = r.hex8();
  home.period = { start: isoDate(moveIn) };
  const addresses: Address[] = [home];
  if (moveIn - birth > 2 && r.chance(0.12))
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
      value: household.landline,
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

  const restricted = rank === household.restrictedRank;
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
        value: r.chance(0.9) ? household.practice : localCode(GP_PRACTICE_CODES, areaIndex, r),
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
 * Where a seed's NHS Numbers come from: 'test' is the synthetic 999 range (909,091 numbers, the
 * demo's and the tests'), 'national' the never-issued 9 block (NationalNumberBlock, 88.7 million).
 */
export type NumberBlockName = 'test' | 'national';

/** How many patients a seed can generate from each block. */
export const PATIENTS_PER_BLOCK: Record<NumberBlockName, number> = {
  test: MAX_PATIENTS_PER_SEED,
  national: NationalNumberBlock.size,
};

/**
 * A generator of up to PATIENTS_PER_BLOCK[block] patients for a seed; generate(index) throws
 * beyond that, as the block has no more valid NHS Numbers.
 */
export function createPatientGenerator(
  seed: number,
  block: NumberBlockName = 'test',
): {
  generate(index: number): GeneratedPatient;
} {
  if (!Number.isSafeInteger(seed))
    throw new Error(`patient generator seed must be a safe integer, got ${seed}`);
  const key = mix32((seed >>> 0) ^ 0x5bd1e995) ^ mix32(Math.floor(seed / 4294967296) >>> 0);
  const numbers = block === 'national' ? new NationalNumberBlock(key) : new NhsNumberSequence(key);
  const limit = PATIENTS_PER_BLOCK[block];
  const context: BuildContext = { key, limit, numberOf: (i) => numbers.at(i) };
  return {
    generate(index: number): GeneratedPatient {
      if (!Number.isInteger(index) || index < 0 || index >= limit) {
        const range = `the ${block} NHS Number block holds ${limit} valid numbers`;
        throw new Error(
          `patient index ${index} out of range: ${range}, so index must be 0..${limit - 1}`,
        );
      }
      return build(context, index);
    },
  };
}
