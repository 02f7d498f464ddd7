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
