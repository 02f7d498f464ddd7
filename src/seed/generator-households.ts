/**
 * Households for the patient generator, still a pure function of (seed, index): consecutive
 * indexes come in fixed blocks of 8, each split into households by a hash of the block number, so
 * any index finds its household, and its place in it, from a handful of draws and no table. The
 * facts members share (address, family name, practice, the head's age) come from a PRNG seeded by
 * the household's first index, so every member draws the same ones.
 */
import type { Address } from 'fhir/r4.js';
import { dayBetween, END_DAY } from './generator-dates.js';
import { familyName, homeAddress, phone } from './generator-parts.js';
import { AREAS, GP_PRACTICE_CODES, localCode } from './generator-pools.js';
import { mix32, Rng } from './generator-random.js';

export const HOUSEHOLD_BLOCK = 8;
/**
 * Household sizes in England, ONS Census 2021 table TS017 "Household size": 30% one person, 35%
 * two, 15% three, 13% four, 7% five or more (split here 5% five, 2% six). Cumulative shares.
 */
const SIZE_CUMULATIVE = [0.3, 0.65, 0.8, 0.93, 0.98];
export const YEAR = 365.25;
const ADULT_DAYS = 6575; // 18 years

export type Gender = 'male' | 'female' | 'other' | 'unknown';
export const genderOf = (x: number): Gender =>
  x < 0.49 ? 'male' : x < 0.985 ? 'female' : x < 0.995 ? 'other' : 'unknown';

/** Where an index sits: its household (named by its first index), the household size, its rank. */
export interface HouseholdSlot {
  id: number;
  size: number;
  rank: number;
}

export function householdSlot(key: number, index: number): HouseholdSlot {
  const first = index - (index % HOUSEHOLD_BLOCK);
  const hash = mix32(key ^ mix32(((first / HOUSEHOLD_BLOCK) ^ 0x27d4eb2f) >>> 0));
  const pos = index - first;
  let start = 0;
  for (;;) {
    const x = mix32((hash + Math.imul(start + 1, 0x9e3779b9)) >>> 0) / 4294967296; // one draw per household
    let size = 1;
    while (size <= SIZE_CUMULATIVE.length && x >= SIZE_CUMULATIVE[size - 1]) size++;
    size = Math.min(size, HOUSEHOLD_BLOCK - start); // the block's last household is cut short
    if (pos < start + size) return { id: first + start, size, rank: pos - start };
    start += size;
  }
}

/** single: one adult; couple: two adults; family/loneParent: adults then children; sharers: adults. */
export type HouseholdKind = 'single' | 'couple' | 'family' | 'loneParent' | 'sharers';
export type Role = 'head' | 'partner' | 'child' | 'sharer';

export interface Household {
  kind: HouseholdKind;
  areaIndex: number;
  family: string;
  headGender: Gender;
  /** The head's age in years (fractional); other members' ages are drawn relative to it. */
  headAge: number;
  moveIn: number;
  home: Address;
  landline: string;
  practice: string;
  /** The one member whose record is restricted (sensitive), or -1: restriction is per person. */
  restrictedRank: number;
}

/** A childless household head's age, thinning out the very old. */
function adultAge(r: Rng): number {
  const age = 20 + r.next() * 80;
  return age > 75 && r.chance((age - 75) / 25) ? 20 + r.next() * 55 : age;
}

export const birthDay = (ageYears: number): number => END_DAY - 1 - Math.floor(ageYears * YEAR);

export function householdFacts(key: number, slot: HouseholdSlot): Household {
  const r = new Rng(mix32(key ^ mix32((slot.id ^ 0x165667b1) >>> 0)) ^ 0x1b873593);
  const areaIndex = r.int(AREAS.length);
  const family = familyName(r);
  const headGender = genderOf(r.next());
  const x = r.next();
  const kind: HouseholdKind =
    slot.size === 1
      ? 'single'
      : slot.size === 2
        ? x < 0.2
          ? 'loneParent'
          : x < 0.92
            ? 'couple'
            : 'sharers'
        : x < 0.7
          ? 'family'
          : x < 0.87
            ? 'loneParent'
            : 'sharers';
  const parents = kind === 'family' || kind === 'loneParent';
  const headAge = parents ? 20 + r.next() * 38 : adultAge(r);
  const moveIn = dayBetween(r, birthDay(headAge) + ADULT_DAYS, END_DAY);
  const home = homeAddress(r, areaIndex, moveIn);
  return {
    kind,
    areaIndex,
    family,
    headGender,
    headAge,
    moveIn,
    home,
    landline: phone(r, AREAS[areaIndex].phone),
    practice: localCode(GP_PRACTICE_CODES, areaIndex, r),
    restrictedRank: r.chance(0.005 * slot.size) ? r.int(slot.size) : -1,
  };
}

export function roleOf(kind: HouseholdKind, rank: number): Role {
  if (rank === 0) return 'head';
  if (kind === 'sharers') return 'sharer';
  if (kind === 'couple' || (kind === 'family' && rank === 1)) return 'partner';
  return 'child';
}

const clampAdult = (age: number): number => Math.min(99.9, Math.max(18, age));

/** A member's age in years: partners within 4 years of the head, children 18-45 years younger. */
export function memberAge(h: Household, role: Role, r: Rng): number {
  if (role === 'head') return h.headAge;
  if (role === 'partner') return clampAdult(h.headAge + r.next() * 8 - 4);
  if (role === 'sharer') return clampAdult(h.headAge + r.next() * 20 - 10);
  return h.headAge - (18 + r.next() * (Math.min(45, h.headAge) - 18));
}

/** A partner is mostly of the other sex; everyone else draws their own. */
export function memberGender(h: Household, role: Role, r: Rng): Gender {
  if (role === 'head') return h.headGender;
  const x = r.next();
  if (role === 'partner' && x < 0.95 && (h.headGender === 'male' || h.headGender === 'female'))
    return h.headGender === 'male' ? 'female' : 'male';
  return genderOf(role === 'partner' ? r.next() : x);
}

/** Children and the head carry the household's name; a partner shares it 70% of the time. */
export function memberFamily(h: Household, role: Role, r: Rng): string {
  if (role === 'head') return h.family;
  if (role === 'sharer') return familyName(r);
  return r.chance(role === 'partner' ? 0.7 : 0.95) ? h.family : familyName(r);
}

/** When a member moved in: with the household, at birth, or (some adults) later. */
export function memberMoveIn(h: Household, role: Role, birth: number, r: Rng): number {
  if (role === 'head') return h.moveIn;
  if (role === 'child') return Math.max(h.moveIn, birth);
  const from = Math.min(END_DAY - 1, Math.max(h.moveIn, birth + ADULT_DAYS));
  return r.chance(0.2) ? dayBetween(r, from, END_DAY) : from;
}
