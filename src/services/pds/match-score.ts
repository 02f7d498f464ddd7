import type { Patient } from 'fhir/r4.js';
import { normalisePostcode, outwardCode } from '../../fhir/postcode.js';
import {
  nameSimilarity,
  nearestPostcodeDistance,
  POSTCODE_EDIT_TOLERANCE,
} from './name-matching.js';
import { gpOdsCode, isCurrentAddress } from './patient-model.js';
import type { TraceRequest } from './trace-request.js';

/** Swaps day and month of a YYYY-MM-DD date when the result is a real date (a common keying slip). */
export function transposedDate(iso: string): string | undefined {
  const [y, m, d] = iso.split('-');
  if (m === d || Number(d) > 12) return undefined;
  const swapped = `${y}-${d}-${m}`;
  const t = new Date(swapped + 'T00:00:00Z');
  return !Number.isNaN(t.getTime()) && t.toISOString().slice(0, 10) === swapped
    ? swapped
    : undefined;
}

const WEIGHTS = { family: 0.3, given: 0.25, birthdate: 0.25, gender: 0.1, postcode: 0.1 };

function bestNameScore(queryParts: string[], candidates: string[]): number {
  if (!queryParts.length || !candidates.length) return 0;
  // each query part takes its best candidate; the whole scores as their mean
  const total = queryParts.reduce(
    (sum, q) => sum + Math.max(...candidates.map((c) => nameSimilarity(q, c))),
    0,
  );
  return total / queryParts.length;
}

/**
 * Given names the caller did not give lower the given-name score a little: "Pauline" is a closer
 * match for Pauline than for Pauline Mary when the match is otherwise imperfect (karate
 * searchParams.feature "Unicode search" ranks the single given name first, both below 1). The name
 * with the fewest given names beyond those asked for counts.
 */
function extraGivenFactor(asked: number, patient: Patient): number {
  const counts = (patient.name ?? [])
    .map((n) => (n.given ?? []).flatMap((g) => g.split(/\s+/)).filter(Boolean).length)
    .filter((c) => c > 0);
  if (!counts.length) return 1;
  const extra = Math.max(0, Math.min(...counts) - asked);
  return 1 - 0.03 * Math.min(extra, 3);
}

/**
 * Fuzzy match score in [0, 1]: a weighted mean over the fields the caller gave. Names compare
 * against every name the patient has had (history is always in play for fuzzy search), spelling
 * and sound alike, and also with given and family swapped. 1 means every given field matched exactly.
 */
export function fuzzyScore(req: TraceRequest, patient: Patient): number {
  const families = (patient.name ?? []).map((n) => n.family ?? '').filter(Boolean);
  const givens = (patient.name ?? [])
    .flatMap((n) => n.given ?? [])
    .flatMap((g) => g.split(/\s+/))
    .filter(Boolean);
  const queryGivens = req.given.flatMap((g) => g.split(/\s+/)).filter(Boolean);
  let score = 0,
    weight = 0;
  const straight = {
    family: req.family ? bestNameScore([req.family], families) : 0,
    given: queryGivens.length ? bestNameScore(queryGivens, givens) : 0,
  };
  const swapped = {
    family: req.family ? bestNameScore([req.family], givens) : 0,
    given: queryGivens.length ? bestNameScore(queryGivens, families) : 0,
  };
  const useSwapped =
    req.family &&
    queryGivens.length &&
    (swapped.family + swapped.given) * 0.95 > straight.family + straight.given;
  const names = useSwapped
    ? { family: swapped.family * 0.95, given: swapped.given * 0.95 }
    : straight;
  if (req.family) {
    score += WEIGHTS.family * names.family;
    weight += WEIGHTS.family;
  }
  if (queryGivens.length) {
    score += WEIGHTS.given * names.given;
    weight += WEIGHTS.given;
  }
  if (req.birthdate.length === 1 && req.birthdate[0].op === 'eq') {
    const dob = req.birthdate[0].value;
    weight += WEIGHTS.birthdate;
    if (patient.birthDate === dob) score += WEIGHTS.birthdate;
    else if (patient.birthDate && transposedDate(dob) === patient.birthDate)
      score += WEIGHTS.birthdate * 0.8;
  } else if (req.birthdate.length) {
    // a range: a birth date inside it matches fully
    weight += WEIGHTS.birthdate;
    if (matchesDates(req.birthdate, patient.birthDate)) score += WEIGHTS.birthdate;
  }
  if (req.gender) {
    weight += WEIGHTS.gender;
    if (patient.gender === req.gender) score += WEIGHTS.gender;
  }
  if (req.postcode) {
    weight += WEIGHTS.postcode;
    const wanted = normalisePostcode(req.postcode);
    const codes = (patient.address ?? [])
      .map((a) => (a.postalCode ? normalisePostcode(a.postalCode) : ''))
      .filter(Boolean);
    if (codes.includes(wanted)) score += WEIGHTS.postcode;
    else {
      // the same district, or a postcode a keying slip or two away, matches in part
      const district = codes.some((c) => outwardCode(c) === outwardCode(wanted)) ? 0.5 : 0;
      const distance = nearestPostcodeDistance(wanted, codes);
      const slip = distance <= POSTCODE_EDIT_TOLERANCE ? 1 - 0.25 * distance : 0;
      score += WEIGHTS.postcode * Math.max(district, slip);
    }
  }
  let result = weight ? score / weight : 0;
  // an imperfect match ranks below another with no given names beyond those asked for; a
  // query every field of which matched exactly still scores 1
  if (result < 1 && queryGivens.length) result *= extraGivenFactor(queryGivens.length, patient);
  // death date and GP practice are not used to find candidates, but a mismatch lowers confidence
  if (req.deathDate.length && !matchesDates(req.deathDate, patient.deceasedDateTime?.slice(0, 10)))
    result *= 0.9;
  if (req.gp && gpOdsCode(patient)?.toUpperCase() !== req.gp) result *= 0.9;
  return Math.round(result * 10_000) / 10_000;
}

export function matchesDates(conds: TraceRequest['birthdate'], value: string | undefined): boolean {
  if (!value) return false;
  return conds.every((c) =>
    c.op === 'eq' ? value === c.value : c.op === 'ge' ? value >= c.value : value <= c.value,
  );
}

/**
 * Score of a non-fuzzy (algorithmic) match: 1 when every name and postcode matched the current
 * record exactly; wildcard and history-only matches score lower so _exact-match can drop them.
 */
export function algorithmicScore(req: TraceRequest, patient: Patient): number {
  let score = 1;
  const currentNames = (patient.name ?? []).filter(
    (n) =>
      n.use !== 'old' && (!n.period?.end || n.period.end >= new Date().toISOString().slice(0, 10)),
  );
  const lower = (s: string) => s.toLowerCase();
  if (req.family) {
    if (req.family.includes('*')) score *= 0.9;
    else if (!currentNames.some((n) => lower(n.family ?? '') === lower(req.family!))) score *= 0.8;
  }
  for (const g of req.given) {
    if (g.includes('*')) {
      score *= 0.9;
      continue;
    }
    const wanted = g.split(/\s+/).map(lower);
    if (
      !currentNames.some((n) =>
        wanted.every((w) =>
          (n.given ?? [])
            .flatMap((x) => x.split(/\s+/))
            .map(lower)
            .includes(w),
        ),
      )
    )
      score *= 0.8;
  }
  if (req.postcode) {
    if (req.postcode.includes('*')) score *= 0.9;
    else if (
      !(patient.address ?? []).some(
        (a) =>
          isCurrentAddress(a) &&
          a.postalCode &&
          normalisePostcode(a.postalCode) === normalisePostcode(req.postcode!),
      )
    )
      score *= 0.8;
  }
  return Math.round(score * 10_000) / 10_000;
}
