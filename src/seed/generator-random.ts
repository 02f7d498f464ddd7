/**
 * The patient generator's deterministic randomness: a 32-bit mixer, a tiny seeded PRNG and the
 * table-driven hex and digit formatting it feeds. Kept apart so the reference pools, the NHS Number
 * walk and the resource builders all draw from one source without depending on each other.
 */

/** murmur3's fmix32: a bijection on 32-bit integers, so distinct inputs give distinct outputs. */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

// Table lookups: toString(16)/padStart and toISOString dominated the profile.
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, '0'));
export const hex8 = (x: number): string =>
  HEX[x >>> 24] + HEX[(x >>> 16) & 255] + HEX[(x >>> 8) & 255] + HEX[x & 255];
export const PADDED = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));

/** mulberry32: tiny and fast, plenty for synthetic data. */
export class Rng {
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

export const digits = (r: Rng, n: number): string => String(r.int(10 ** n)).padStart(n, '0');
export const digits3 = (r: Rng): string => PADDED[r.int(1000)];
