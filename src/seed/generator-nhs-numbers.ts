/**
 * The patient generator's NHS Numbers: a seed-dependent walk over the synthetic 999 range that
 * hands index i the i-th valid number, so numbers are unique per seed. Apart from the record
 * builder because it is the one piece with state (a lazily grown cache).
 */
import { mix32 } from './generator-random.js';

/** Valid NHS Numbers in 999000000x..999999999x: the stems whose check digit is not 10. */
export const MAX_PATIENTS_PER_SEED = 909_091;

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
export class NhsNumberSequence {
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

/**
 * Four-digit prefixes of the NHS Numbers in NHS England's published examples and test packs (the
 * PDS sandbox and integration patients, the syntax example 987 654 4321), as found in
 * test/fixtures: the national block leaves them out, so a published test patient loaded beside a
 * synthetic nation can never share its number. docs/pds.md, "Synthetic NHS Numbers".
 */
const PUBLISHED_TEST_PREFIXES = [
  9000, 9054, 9111, 9446, 9449, 9453, 9462, 9691, 9699, 9733, 9736, 9876, 9900, 9912,
];

/** Digits after a four-digit prefix, and their weights in the modulus-11 sum (6, 5, 4, 3, 2). */
const TAIL_DIGITS = 5;

/**
 * ways[n][t]: how many ways the last n digits of a stem (weights n+1 down to 2) add up to t mod 11.
 * A stem is valid unless its weighted sum is 1 mod 11 (check digit 10), so the valid completions
 * of a partial sum r are 10^n - ways[n][(1 - r) mod 11]: counting and ranking valid numbers needs
 * no walk over them.
 */
const ways: number[][] = [[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]];
for (let n = 1; n <= TAIL_DIGITS; n++) {
  const row = new Array<number>(11).fill(0);
  for (let t = 0; t < 11; t++)
    for (let d = 0; d < 10; d++) row[(t + (n + 1) * d) % 11] += ways[n - 1][t];
  ways.push(row);
}
const validCompletions = (n: number, r: number): number => 10 ** n - ways[n][(12 - r) % 11];

/** Weighted sum mod 11 of a four-digit prefix (weights 10, 9, 8, 7). */
const prefixSum = (prefix: number): number =>
  (10 * Math.floor(prefix / 1000) +
    9 * (Math.floor(prefix / 100) % 10) +
    8 * (Math.floor(prefix / 10) % 10) +
    7 * (prefix % 10)) %
  11;

/**
 * The national synthetic block: every valid NHS Number from 900 000 0000 to 998 999 9999 outside
 * the published test prefixes, 88.7 million numbers. Numbers beginning with 9 are never issued to
 * patients (docs/pds.md); 999 stays the demo's and the tests' own range. A seed takes them in
 * ascending order from a seed-dependent start, wrapping once, so each batch appends to the end of
 * the store's primary keys instead of landing all over them, and index i is found in O(1)
 * (a binary search over 976 prefixes, then one digit at a time) with no table of numbers.
 */
export class NationalNumberBlock {
  static readonly prefixes: number[] = [];
  static readonly before: number[] = []; // valid numbers in the prefixes before each one
  static readonly size: number = (() => {
    const skip = new Set(PUBLISHED_TEST_PREFIXES);
    let total = 0;
    for (let prefix = 9000; prefix <= 9989; prefix++) {
      if (skip.has(prefix)) continue;
      NationalNumberBlock.prefixes.push(prefix);
      NationalNumberBlock.before.push(total);
      total += validCompletions(TAIL_DIGITS, prefixSum(prefix));
    }
    return total;
  })();

  private readonly offset: number;
  constructor(key: number) {
    this.offset = (key >>> 0) % NationalNumberBlock.size;
  }

  at(index: number): string {
    return NationalNumberBlock.nth((this.offset + index) % NationalNumberBlock.size);
  }

  /** The n-th valid number of the block in ascending order. */
  static nth(n: number): string {
    const { prefixes, before } = NationalNumberBlock;
    let lo = 0,
      hi = prefixes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (before[mid] <= n) lo = mid;
      else hi = mid - 1;
    }
    let rank = n - before[lo];
    let sum = prefixSum(prefixes[lo]);
    let tail = 0;
    for (let left = TAIL_DIGITS - 1; left >= 0; left--) {
      const weight = left + 2;
      let digit = 0;
      for (; digit < 10; digit++) {
        const r = (sum + weight * digit) % 11;
        const count = left ? validCompletions(left, r) : r === 1 ? 0 : 1;
        if (rank < count) break;
        rank -= count;
      }
      sum = (sum + weight * digit) % 11;
      tail = tail * 10 + digit;
    }
    const check = sum === 0 ? 0 : 11 - sum;
    return String(prefixes[lo]) + String(tail).padStart(TAIL_DIGITS, '0') + check;
  }
}
