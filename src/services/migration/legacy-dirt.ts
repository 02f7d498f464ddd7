/**
 * The dirt a decades-old national system accumulates, decided per patient index so that the legacy
 * data set is a pure function of (seed, rows) like the synthetic generator it is built from.
 */

/** mulberry32 over a mixed (seed, index) state: small, fast and deterministic. */
export class DirtRng {
  private s: number;
  constructor(seed: number, index: number, salt = 0) {
    this.s =
      (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35) ^ salt) | 0;
    for (let i = 0; i < 3; i++) this.next();
  }
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(list: readonly T[]): T {
    return list[this.int(list.length)];
  }
}

export interface PatientDirt {
  /** Keyed with spaces ("999 123 4567"): cleanable. */
  spacedNumber: boolean;
  /** A wrong check digit: unmappable. */
  invalidNumber: boolean;
  /** Entered twice under two surrogate keys. */
  duplicated: boolean;
  /** Merged into the previous patient (whose number it then names in superseded_by). */
  superseded: boolean;
  /** A birth date nobody can read ('UNKNOWN', 31/02/...). */
  unreadableBirthDate: boolean;
  /** How the (readable) birth date was typed. */
  dateFormat: 'iso' | 'slashes' | 'oracle' | 'compact';
  /** Non-ASCII names stored as UTF-8 bytes in the ISO-8859-1 column (mojibake). */
  mojibake: boolean;
  /** Clinical rows left behind pointing at a patient key that no longer exists. */
  orphans: number;
}

/** The dirt of patient `index`; `superseded` is only ever set when the previous patient is clean. */
export function dirtOf(seed: number, index: number): PatientDirt {
  const r = new DirtRng(seed, index, 0x5eed);
  const x = r.next();
  const d: PatientDirt = {
    spacedNumber: r.chance(0.05),
    invalidNumber: x < 0.005,
    duplicated: x >= 0.005 && x < 0.015,
    superseded: false,
    unreadableBirthDate: x >= 0.015 && x < 0.02,
    dateFormat: r.pick([
      'iso',
      'iso',
      'iso',
      'iso',
      'slashes',
      'slashes',
      'slashes',
      'oracle',
      'oracle',
      'compact',
    ] as const),
    mojibake: r.chance(0.3),
    orphans: r.chance(0.004) ? 1 + r.int(2) : 0,
  };
  if (x >= 0.02 && x < 0.03 && index > 0 && isCleanSurvivor(seed, index - 1)) d.superseded = true;
  return d;
}

/** A patient another may be merged into: valid, single, readable, not itself superseded. */
function isCleanSurvivor(seed: number, index: number): boolean {
  const r = new DirtRng(seed, index, 0x5eed);
  const x = r.next();
  return x >= 0.03;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** An ISO date as the legacy front end let it be typed. */
export function freeTextDate(iso: string, format: PatientDirt['dateFormat']): string {
  const [y, m, d] = iso.split('-');
  switch (format) {
    case 'iso':
      return iso;
    case 'slashes':
      return `${d}/${m}/${y}`;
    case 'oracle':
      return `${d}-${MONTHS[Number(m) - 1]}-${y}`;
    case 'compact':
      return `${y}${m}${d}`;
  }
}

export const UNREADABLE_DATES = ['UNKNOWN', '31/02/1987', '00/00/0000', 'see notes', '1985-13-40'];

/** Accented forms some given names and surnames carry in the legacy data. */
export const ACCENTED: Record<string, string> = {
  Zoe: 'Zoë',
  Chloe: 'Chloë',
  Sean: 'Seán',
  Siobhan: 'Siobhán',
  Renee: 'Renée',
  Noemi: 'Noémi',
  Frederick: 'Frédérick',
  Patel: 'Patél',
  Muller: 'Müller',
  Bronte: 'Brontë',
  Owen: 'Owén',
  Niamh: 'Níamh',
};

/** How the legacy column holds text: ISO-8859-1 bytes, or (mojibake) UTF-8 bytes in the same column. */
export function legacyBytes(text: string, mojibake: boolean): Buffer {
  if (mojibake && /[^\x00-\x7f]/.test(text)) return Buffer.from(text, 'utf8');
  return Buffer.from(text, 'latin1');
}
