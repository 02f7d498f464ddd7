/** Name normalisation and similarity used by the patient index and fuzzy trace. */

/** Lower case, accents folded, letters only: "O'Brien" -> "obrien", "Zoë" -> "zoe". */
export function normaliseName(value: string): string {
  if (/^[a-z]*$/.test(value)) return value; // already normal: the common case when indexing
  return value.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z]/g, '');
}

export function normalisePostcode(value: string): string {
  return value.toUpperCase().replace(/\s+/g, '');
}

/** The outward code (district) of a postcode: "LS16AE" -> "LS1". */
export function outwardCode(normalisedPostcode: string): string {
  return normalisedPostcode.length > 3 ? normalisedPostcode.slice(0, -3) : normalisedPostcode;
}

const SOUNDEX_CODES: Record<string, string> = {
  b: '1', f: '1', p: '1', v: '1',
  c: '2', g: '2', j: '2', k: '2', q: '2', s: '2', x: '2', z: '2',
  d: '3', t: '3', l: '4', m: '5', n: '5', r: '6',
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
    const lo = Math.max(0, i - window), hi = Math.min(b.length - 1, i + window);
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
  const a = normaliseName(query), b = normaliseName(candidate);
  if (!a || !b) return 0;
  const spelling = jaroWinkler(a, b);
  return soundex(a) === soundex(b) ? Math.max(spelling, 0.88) : spelling;
}
