/** Name normalisation and similarity used by the patient index and fuzzy trace. */

// Re-exported for trace.ts and test/pds-units.test.ts; the helpers live in src/fhir/postcode.ts.
export { normalisePostcode, outwardCode } from '../../fhir/postcode.js';

/** Lower case, accents folded, letters only: "O'Brien" -> "obrien", "Zoë" -> "zoe". */
export function normaliseName(value: string): string {
  if (/^[a-z]*$/.test(value)) return value; // already normal: the common case when indexing
  return value
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z]/g, '');
}

const SOUNDEX_CODES: Record<string, string> = {
  b: '1',
  f: '1',
  p: '1',
  v: '1',
  c: '2',
  g: '2',
  j: '2',
  k: '2',
  q: '2',
  s: '2',
  x: '2',
  z: '2',
  d: '3',
  t: '3',
  l: '4',
  m: '5',
  n: '5',
  r: '6',
};

/** American Soundex (Smith, Smyth and Smythe all give S530), as PDS uses for homophones. */
export function soundex(name: string): string {
  const s = normaliseName(name);
  if (!s) return '';
  let out = s[0].toUpperCase();
  let last = SOUNDEX_CODES[s[0]] ?? '';
  for (let i = 1; i < s.length && out.length < 4; i++) {
    const ch = s[i];
    const code = SOUNDEX_CODES[ch];
    if (code && code !== last) out += code;
    // h and w do not separate letters with the same code; vowels do
    if (ch !== 'h' && ch !== 'w') last = code ?? '';
  }
  return out.padEnd(4, '0');
}

/** Jaro-Winkler similarity in [0, 1] of two already-normalised strings. */
export function jaroWinkler(a: string, b: string): number {
  if (a === b) return a.length ? 1 : 0;
  if (!a.length || !b.length) return 0;
  const window = Math.max(0, Math.floor(Math.max(a.length, b.length) / 2) - 1);
  const aMatched = new Array<boolean>(a.length).fill(false);
  const bMatched = new Array<boolean>(b.length).fill(false);
  let matches = 0;
  for (let i = 0; i < a.length; i++) {
    const lo = Math.max(0, i - window),
      hi = Math.min(b.length - 1, i + window);
    for (let j = lo; j <= hi; j++) {
      if (!bMatched[j] && a[i] === b[j]) {
        aMatched[i] = bMatched[j] = true;
        matches++;
        break;
      }
    }
  }
  if (!matches) return 0;
  let transpositions = 0;
  for (let i = 0, j = 0; i < a.length; i++) {
    if (!aMatched[i]) continue;
    while (!bMatched[j]) j++;
    if (a[i] !== b[j]) transpositions++;
    j++;
  }
  const m = matches;
  const jaro = (m / a.length + m / b.length + (m - transpositions / 2) / m) / 3;
  let prefix = 0;
  while (prefix < 4 && prefix < a.length && prefix < b.length && a[prefix] === b[prefix]) prefix++;
  return jaro + prefix * 0.1 * (1 - jaro);
}

/** Similarity of two names for matching: spelling (Jaro-Winkler) with a floor for homophones. */
export function nameSimilarity(query: string, candidate: string): number {
  const a = normaliseName(query),
    b = normaliseName(candidate);
  if (!a || !b) return 0;
  const spelling = jaroWinkler(a, b);
  return soundex(a) === soundex(b) ? Math.max(spelling, 0.88) : spelling;
}

/**
 * Levenshtein distance of two strings, or `max + 1` as soon as it is certain to exceed `max`
 * (the caller only asks whether two short values are within a keying slip or two of each other).
 */
export function editDistance(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        previous[j] + 1,
        row[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      best = Math.min(best, row[j]);
    }
    if (best > max) return max + 1;
    previous = row;
  }
  return previous[b.length];
}

/**
 * A fuzzy search's postcode matches a held postcode within this many keying slips (DN15 8JY for
 * "DN18 8JY" or "DN15258JY").
 */
export const POSTCODE_EDIT_TOLERANCE = 2;

/**
 * The edit distance of a searched postcode from the nearest of the held ones (already normalised),
 * capped at tolerance + 1.
 */
export function nearestPostcodeDistance(wanted: string, held: string[]): number {
  return Math.min(
    POSTCODE_EDIT_TOLERANCE + 1,
    ...held.map((h) => editDistance(wanted, h, POSTCODE_EDIT_TOLERANCE)),
  );
}

/**
 * The digits of a phone number, an international '+' written as the '00' it is dialled as: "+91
 * 99480" -> "009199480".
 */
export function phoneDigits(value: string): string {
  return value
    .trim()
    .replace(/^\+/, '00')
    .replace(/[^0-9]/g, '');
}

/**
 * Whether a searched phone number is a held one: the same digits, or (for a full number of ten
 * digits or more) the same digits but one, a single mistyped digit.
 */
export function phoneNumbersMatch(searched: string, held: string): boolean {
  const a = phoneDigits(searched),
    b = phoneDigits(held);
  if (!a || a.length !== b.length) return false;
  if (a === b) return true;
  if (a.length < 10) return false;
  let differing = 0;
  for (let i = 0; i < a.length && differing < 2; i++) if (a[i] !== b[i]) differing++;
  return differing === 1;
}
