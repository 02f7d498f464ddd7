/**
 * Deterministic synthetic English patients in the shape of NHS PDS FHIR Patient resources (see the
 * fixtures Patient.json / RelatedPerson.json). A patient is a pure function of (seed, index): each
 * one draws from its own small PRNG seeded from both, so output never depends on call order.
 * faker supplies only its en_GB street list: faker.seed() costs ~0.1 ms a call, too slow per patient.
 */
import { faker } from '@faker-js/faker/locale/en_GB';
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

export interface GeneratedPatient {
  patient: Patient;
  relatedPersons: RelatedPerson[];
}

export const SECURITY_SYSTEM = 'https://www.hl7.org/fhir/valueset-security-labels.html';
export const PDS_PATIENT_URL = 'https://api.service.nhs.uk/personal-demographics/FHIR/R4/Patient/';
const EXT = 'https://fhir.nhs.uk/R4/StructureDefinition/Extension-UKCore-';
const CODES = 'https://fhir.nhs.uk/R4/CodeSystem/UKCore-';
const ODS_DIRECTORY = 'https://directory.spineservices.nhs.uk/STU3/Organization/';
const ROLE_CODES = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';

/** Valid NHS Numbers in 999000000x..999999999x: the stems whose check digit is not 10. */
export const MAX_PATIENTS_PER_SEED = 909_091;

// ---- reference data (curated: faker's en name lists are largely American) ----
const words = (s: string): string[] => s.split(' ');
const FEMALE = words(
  'Mary Margaret Patricia Susan Elizabeth Joan Dorothy Jean Barbara Sheila Christine Linda Janet Carol Pauline Karen Julie Sarah Helen Claire Emma Rachel Louise Nicola Michelle Rebecca Laura Gemma Hannah Charlotte Sophie Amy Lucy Jessica Emily Chloe Olivia Grace Amelia Isla Ava Mia Poppy Freya Evie Lily Ella Isabella Ruby Florence Alice Harriet Victoria Catherine Anne Jane Joanne Deborah Tracey Hayley Zoe Megan Jade Kirsty Abigail Eleanor Frances Rose Maisie Matilda Phoebe Niamh Siobhan Aisha Priya Fatima Bethany Jennifer Gillian Wendy Valerie Brenda Sandra',
);
const MALE = words(
  'John David Michael Peter Robert Paul Richard James William Stephen Christopher Mark Andrew Anthony Ian Kevin Gary Simon Neil Darren Lee Craig Jason Matthew Daniel Thomas Adam Ryan Luke Jack Joshua Samuel Benjamin Oliver Harry George Charlie Alfie Noah Leo Oscar Arthur Freddie Archie Henry Edward Jacob Ethan Alexander Joseph Nathan Liam Callum Connor Dylan Owen Rhys Aaron Jamie Stuart Graham Keith Brian Derek Ronald Kenneth Alan Colin Trevor Roy Patrick Sean Mohammed Rajesh Imran Philip Martin Nigel Barry Terence Dennis Frederick',
);
const FAMILY = words(
  "Smith Jones Williams Taylor Brown Davies Evans Wilson Thomas Johnson Roberts Robinson Thompson Wright Walker White Edwards Hughes Green Hall Lewis Harris Clarke Patel Jackson Wood Turner Martin Cooper Hill Ward Morris Moore Clark Lee King Baker Harrison Morgan Allen James Scott Phillips Watson Davis Parker Price Bennett Young Griffiths Mitchell Kelly Cook Carter Richardson Bailey Collins Bell Shaw Murphy Miller Cox Richards Khan Marshall Anderson Simpson Ellis Adams Singh Begum Wilkinson Foster Chapman Powell Webb Rogers Gray Mason Ali Hunt Hussain Campbell Matthews Owen Palmer Holmes Mills Barnes Knight Lloyd Butler Russell Barker Fisher Stevens Jenkins Murray Dixon Harvey Graham Pearson Ahmed Fletcher Walsh Kaur Gibson Howard Andrews Stewart Elliott Reynolds Saunders Payne Fox Ford Pearce Day Brooks West Lawrence Cole Atkinson Bradley Spencer Gill Dawson Ball Burton O'Brien O'Neill O'Connor O'Sullivan Smythe Smyth Whitfield Ashworth Hargreaves Greenwood Sutcliffe Ramsbottom Pickering Thornton Barraclough",
);
const LOCALITIES = (
  'Moorside|Westfield|Northfield|Hillside|Woodhouse|Ashfield|Oakwood|Parkside|Highfield|Newtown|Brookside|' +
  'Greenhill|Fairfield|Southgate|Eastfield|Meadowbank|Kingswood|Elmwood|Springfield|Beechwood|Castlefields|' +
  'Old Town|Church End|West End|Town Centre|City Centre|Hill Top|Priory Park|Mill Hill|Stonebridge'
).split('|');
const STREETS = faker.definitions.location.street_name ?? ['High Street'];
const STREET_SUFFIXES = faker.definitions.location.street_suffix ?? ['Road'];
const EMAIL_DOMAINS = words('example.com example.co.uk example.org example.net');

interface Area {
  code: string;
  town: string;
  county: string | null;
  districts: string[];
  /** An Ofcom drama-range prefix (8 digits; 3 more follow), so no real line is ever dialled. */
  phone: string;
}
// code|town|county|districts|phone prefix. London carries no county line, as in PAF.
const AREAS: Area[] = `LS|Leeds|West Yorkshire|1-17|01134960;BD|Bradford|West Yorkshire|1-15|
M|Manchester|Greater Manchester|1-35|01614960;BL|Bolton|Greater Manchester|1-7|;B|Birmingham|West Midlands|1-38|01214960
CV|Coventry|West Midlands|1-8|;WV|Wolverhampton|West Midlands|1-14|;L|Liverpool|Merseyside|1-27|01514960
S|Sheffield|South Yorkshire|1-14|01144960;NE|Newcastle upon Tyne|Tyne and Wear|1-13|01914980;SR|Sunderland|Tyne and Wear|1-6|
NG|Nottingham|Nottinghamshire|1-16|01154960;LE|Leicester|Leicestershire|1-5|01164960;DE|Derby|Derbyshire|1-24|
BS|Bristol|Avon|1-16|01174960;RG|Reading|Berkshire|1-6|01184960;OX|Oxford|Oxfordshire|1-4|;CB|Cambridge|Cambridgeshire|1-5|
NR|Norwich|Norfolk|1-14|;IP|Ipswich|Suffolk|1-5|;YO|York|North Yorkshire|1,10,23,24,26,30,31,32|;HU|Hull|East Yorkshire|1-10|
EX|Exeter|Devon|1-6|;PL|Plymouth|Devon|1-9|;TR|Truro|Cornwall|1|;BA|Bath|Somerset|1-2|;GL|Gloucester|Gloucestershire|1-4|
WR|Worcester|Worcestershire|1-5|;PR|Preston|Lancashire|1-5|;CA|Carlisle|Cumbria|1-6|;DH|Durham|County Durham|1|
TS|Middlesbrough|North Yorkshire|1-8|;NN|Northampton|Northamptonshire|1-5|;MK|Milton Keynes|Buckinghamshire|1-15|
CT|Canterbury|Kent|1-2|;ME|Maidstone|Kent|14-17|;BN|Brighton|East Sussex|1-3|;PO|Portsmouth|Hampshire|1-6|
SO|Southampton|Hampshire|14-19|;GU|Guildford|Surrey|1-4|;SP|Salisbury|Wiltshire|1-2|;CH|Chester|Cheshire|1-4|
ST|Stoke-on-Trent|Staffordshire|1-6|;SY|Shrewsbury|Shropshire|1-3|;LN|Lincoln|Lincolnshire|1-6|;HR|Hereford|Herefordshire|1-4|
SW|London||1A,1P,1V,1W,2-20|02079460;E|London||1-18|02079460;N|London||1-22|02079460;SE|London||1-28|02079460
NW|London||1-11|02079460;W|London||1-14|02079460`
  .split(/[;\n]/)
  .map((row) => {
    const [code, town, county, spec, dial] = row.trim().split('|');
    const districts = spec.split(',').flatMap((part) => {
      const m = /^(\d+)-(\d+)$/.exec(part);
      if (!m) return [part];
      return Array.from({ length: Number(m[2]) - Number(m[1]) + 1 }, (_, i) =>
        String(Number(m[1]) + i),
      );
    });
    return { code, town, county: county || null, districts, phone: dial || '01632960' };
  });
/** Inward-code letters: Royal Mail never uses C, I, K, M, O or V there. */
const INWARD_LETTERS = 'ABDEFGHJLNPQRSTUWXYZ';

const RELATIONS = {
  MTH: 'mother',
  FTH: 'father',
  SPS: 'spouse',
  CHILD: 'child',
  SIB: 'sibling',
  FRND: 'unrelated friend',
} as const;
type Relation = keyof typeof RELATIONS;

// ---- deterministic randomness ----
/** murmur3's fmix32: a bijection on 32-bit integers, so distinct inputs give distinct outputs. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

// Table lookups: toString(16)/padStart and toISOString dominated the profile.
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'));
const hex8 = (x: number): string =>
  HEX[x >>> 24] + HEX[(x >>> 16) & 255] + HEX[(x >>> 8) & 255] + HEX[x & 255];
const PADDED = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** mulberry32: tiny and fast, plenty for synthetic data. */
class Rng {
  constructor(private s: number) {}
  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  next(): number {
    return this.u32() / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(list: ArrayLike<T>): T {
    return list[this.int(list.length)];
  }
  hex8(): string {
    return hex8(this.u32());
  }
}

/** A fixed (seed-independent) pool of ODS codes, so every seed shares the same practices. */
function odsPool(size: number, salt: number, make: (r: Rng) => string): string[] {
  const r = new Rng(salt);
  const codes = new Set<string>();
  while (codes.size < size) codes.add(make(r));
  return [...codes];
}
const digits = (r: Rng, n: number): string => String(r.int(10 ** n)).padStart(n, '0');
const digits3 = (r: Rng): string => PADDED[r.int(1000)];
export const GP_PRACTICE_CODES = odsPool(
  500,
  0x6b1d,
  (r) => r.pick(words('A B C D E F G H J K L M N P Y')) + digits(r, 5),
);
export const PHARMACY_CODES = odsPool(
  300,
  0x7fa3,
  (r) => 'F' + r.pick(INWARD_LETTERS) + digits(r, 3),
);

/** The code among `pool` for an area: each area owns every n-th entry, so practices stay local. */
function localCode(pool: string[], area: number, r: Rng): string {
  const owned = Math.floor((pool.length - 1 - area) / AREAS.length) + 1;
  return pool[area + AREAS.length * r.int(owned)];
}

// ---- dates, held as whole days since 1970-01-01 ----
const DAY_MS = 86_400_000;
const END_DAY = Date.UTC(2026, 0, 1) / DAY_MS; // every generated date falls before 2026-01-01
const FIRST_DAY = END_DAY - 36_600; // births reach back 100 years
const DATES: string[] = [];
const isoDate = (day: number): string =>
  (DATES[day - FIRST_DAY] ??= new Date(day * DAY_MS).toISOString().slice(0, 10));
const dateTime = (day: number, r: Rng): string =>
  `${isoDate(day)}T${PADDED[r.int(24)].slice(1)}:${PADDED[r.int(60)].slice(1)}:00+00:00`;
/** A day in [from, to), or `from` when the span is empty. */
const dayBetween = (r: Rng, from: number, to: number): number =>
  from + (to > from ? r.int(to - from) : 0);

// ---- NHS Numbers ----
/** Check digit of 999 followed by the six digits of `suffix`, or -1 when it would be 10. */
function checkDigit999(suffix: number): number {
  let sum = 243; // 9*10 + 9*9 + 9*8
  for (let w = 2; w <= 7; w++) {
    sum += (suffix % 10) * w;
    suffix = Math.floor(suffix / 10);
  }
  const check = 11 - (sum % 11);
  return check === 11 ? 0 : check === 10 ? -1 : check;
}

/**
 * Walks stems 999000000..999999999 in a seed-dependent order (k -> (a*k + b) mod 1e6, a coprime to
 * 1e6) and numbers the valid ones; index i gets the i-th, so numbers are unique per seed. The walk
 * is cached lazily and only as far as the highest index asked for.
 */
class NhsNumberSequence {
  private readonly a: number;
  private readonly b: number;
  private found: Int32Array | null = null;
  private count = 0;
  private k = 0;
  constructor(key: number) {
    let a = (mix32(key ^ 0x1234567) % 1_000_000) | 1;
    while (a % 5 === 0) a += 2;
    this.a = a;
    this.b = mix32(key ^ 0x7654321) % 1_000_000;
  }
  at(index: number): string {
    const found = (this.found ??= new Int32Array(MAX_PATIENTS_PER_SEED));
    while (this.count <= index) {
      const suffix = (this.a * this.k++ + this.b) % 1_000_000;
      const check = checkDigit999(suffix);
      if (check >= 0) found[this.count++] = suffix * 10 + check;
    }
    return '999' + String(found[index]).padStart(7, '0');
  }
}

// ---- resource builders ----
const coding = (system: string, code: string, display: string, version?: string) =>
  version ? { system, version, code, display } : { system, code, display };

function familyName(r: Rng): string {
  return r.chance(0.03) ? `${r.pick(FAMILY)}-${r.pick(FAMILY)}` : r.pick(FAMILY);
}

function givenNames(r: Rng, gender: string): string[] {
  const list =
    gender === 'male' ? MALE : gender === 'female' ? FEMALE : r.chance(0.5) ? MALE : FEMALE;
  const first = r.pick(list);
  if (!r.chance(0.4)) return [first];
  const second = r.pick(list);
  return second === first ? [first] : [first, second];
}

/** Children carry no title, as in most PDS records; 'other'/'unknown' get Mx half the time. */
function prefixFor(r: Rng, gender: string, ageYears: number): string[] | undefined {
  if (ageYears < 16) return undefined;
  if (ageYears >= 26 && r.chance(0.02)) return ['Dr'];
  if (gender === 'male') return ['Mr'];
  const x = r.next();
  if (gender !== 'female') return x < 0.5 ? ['Mx'] : undefined;
  return [ageYears < 25 ? (x < 0.7 ? 'Miss' : 'Ms') : x < 0.55 ? 'Mrs' : x < 0.8 ? 'Ms' : 'Miss'];
}

function homeAddress(r: Rng, areaIndex: number, start: number, end?: number): Address {
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

const phone = (r: Rng, prefix: string): string => prefix + digits3(r);
const emailPart = (s: string): string => s.toLowerCase().replace(/[^a-z-]/g, '');

function relatedPerson(
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
