import type { Patient } from 'fhir/r4.js';
import type { IndexCondition, IndexEntry, SearchCriterion } from '../../store/resource-store.js';
import type { Repository } from '../../store/repository.js';
import { blockingRows, indexPatient } from './patient-index.js';
import { BLOCKING_PARAMS, blockingValue } from './patient-blocking.js';
import {
  nearestPostcodeDistance,
  normaliseName,
  normalisePostcode,
  phoneNumbersMatch,
  POSTCODE_EDIT_TOLERANCE,
  soundex,
} from './name-matching.js';
import { algorithmicScore, fuzzyScore, transposedDate } from './match-score.js';
import {
  PATIENT,
  isInvalidated,
  isRestricted,
  isCurrentName,
  isCurrentAddress,
  replacedBy,
} from './patient-model.js';
import type { DateCondition, TraceRequest } from './trace-request.js';
import { survivingRecord } from './patients.js';

export interface TraceMatch {
  patient: Patient;
  version: number;
  score: number;
}

export type TraceResult = { kind: 'matches'; matches: TraceMatch[] } | { kind: 'too-many' };

/** Candidate ids read per search; more than this is always "too many" for a non-fuzzy trace. */
const CANDIDATE_LIMIT = 500;
/** Fuzzy candidates are blocked by birth date and name sound, so they stay few even nationally. */
const FUZZY_CANDIDATE_LIMIT = 2000;
const FUZZY_THRESHOLD = 0.7;

const one = (param: string, op: IndexCondition['op'], value: string): SearchCriterion => ({
  any: [{ param, op, value }],
});

/** An equality condition. */
const cond = (param: string, value: string): IndexCondition => ({ param, op: 'eq', value });

type Glob = (value: string) => boolean;

/** "Sm*th" -> index prefix "sm" plus a pattern the prefix candidates must still satisfy. */
function wildcard(
  value: string,
  normalise: (s: string) => string,
): { prefix: string; pattern?: Glob } {
  const star = value.indexOf('*');
  if (star === -1) return { prefix: normalise(value) };
  const prefix = normalise(value.slice(0, star));
  const rest = value.slice(star);
  const onlyTrailing = /^\*+$/.test(rest);
  if (onlyTrailing) return { prefix };
  return { prefix, pattern: glob(value.split('*').map(normalise)) };
}

/**
 * A '*' pattern matched in linear time: the first part is a prefix, the last a suffix, and each part
 * between is found, leftmost, after the one before (leftmost is always safe for '*'). A regular
 * expression of '.*' runs backtracks exponentially in the number of stars on a long stored name.
 */
export function glob(parts: string[]): Glob {
  const first = parts[0],
    last = parts[parts.length - 1],
    middle = parts.slice(1, -1);
  return (value) => {
    if (
      value.length < first.length + last.length ||
      !value.startsWith(first) ||
      !value.endsWith(last)
    )
      return false;
    let at = first.length;
    const end = value.length - last.length;
    for (const part of middle) {
      const found = value.indexOf(part, at);
      if (found === -1 || found + part.length > end) return false;
      at = found + part.length;
    }
    return true;
  };
}

function dateCriteria(param: string, conds: DateCondition[]): SearchCriterion[] {
  return conds.map((c) => one(param, c.op, c.value));
}

/** A name or postcode condition; with history it matches current or previous values. */
function textCriterion(
  param: string,
  value: string,
  normalise: (s: string) => string,
  patterns: { field: string; matches: Glob }[],
  history: boolean,
): SearchCriterion {
  const { prefix, pattern } = wildcard(value, normalise);
  if (pattern) patterns.push({ field: param, matches: pattern });
  return valueCriterion(param, value.includes('*') ? 'prefix' : 'eq', prefix, history);
}

function valueCriterion(
  param: string,
  op: IndexCondition['op'],
  value: string,
  history: boolean,
): SearchCriterion {
  const current: IndexCondition = { param, op, value };
  return { any: history ? [current, { param: param + '-hist', op, value }] : [current] };
}

/** Values of a patient a wildcard pattern is checked against. */
function fieldValues(p: Patient, field: string, history: boolean): string[] {
  const names = (p.name ?? []).filter((n) => history || isCurrentName(n));
  if (field.startsWith('family')) return names.map((n) => normaliseName(n.family ?? ''));
  if (field.startsWith('given')) return names.flatMap((n) => n.given ?? []).map(normaliseName);
  return (p.address ?? [])
    .filter((a) => history || isCurrentAddress(a))
    .map((a) => normalisePostcode(a.postalCode ?? ''));
}

/** Runs a PDS trace through the index, then scores and filters the few candidates it finds. */
export async function trace(repo: Repository, req: TraceRequest): Promise<TraceResult> {
  return req.fuzzy ? fuzzyTrace(repo, req) : algorithmicTrace(repo, req);
}

async function algorithmicTrace(repo: Repository, req: TraceRequest): Promise<TraceResult> {
  const patterns: { field: string; matches: Glob }[] = [];
  const criteria: SearchCriterion[] = [
    ...dateCriteria('birthdate', req.birthdate),
    ...dateCriteria('death-date', req.deathDate),
  ];
  const h = req.history;
  if (req.family) criteria.push(textCriterion('family', req.family, normaliseName, patterns, h));
  for (const g of req.given) {
    for (const token of g.split(/\s+/))
      criteria.push(textCriterion('given', token, normaliseName, patterns, h));
  }
  if (req.postcode)
    criteria.push(textCriterion('postcode', req.postcode, normalisePostcode, patterns, h));
  if (req.gender) criteria.push(one('gender', 'eq', req.gender));
  if (req.gp) criteria.push(one('general-practitioner', 'eq', req.gp));
  if (req.email) criteria.push(valueCriterion('email', 'eq', req.email, h));
  if (req.phone) criteria.push(valueCriterion('phone', 'eq', req.phone.replace(/[^0-9+]/g, ''), h));
  // redundant with the criteria above, but far rarer than any of them: the search drives from it
  const dob = exactBirthDate(req);
  if (dob && req.family)
    criteria.push(blockedCriterion(BLOCKING_PARAMS.family, dob, req.family, normaliseName));
  if (dob && req.postcode)
    criteria.push(blockedCriterion(BLOCKING_PARAMS.postcode, dob, req.postcode, normalisePostcode));

  const ids = await repo.search({ type: PATIENT, criteria, limit: CANDIDATE_LIMIT + 1 });
  if (ids.length > CANDIDATE_LIMIT) return { kind: 'too-many' };
  const locationSearch = Boolean(req.postcode || req.gp);
  const scored = (await repo.readMany(PATIENT, ids))
    .filter((s) =>
      patterns.every(({ field, matches }) =>
        fieldValues(s.resource, field, req.history).some(matches),
      ),
    )
    .map((s) => ({
      patient: s.resource,
      version: s.version,
      score: algorithmicScore(req, s.resource),
    }));
  const matches = (await withSurvivors(repo, scored))
    .filter((m) => !isInvalidated(m.patient))
    // restricted records never answer a search by where someone lives or is registered
    .filter((m) => !(locationSearch && isRestricted(m.patient)))
    .filter((m) => !req.exact || m.score === 1);
  if (matches.length > req.maxResults) return { kind: 'too-many' };
  return { kind: 'matches', matches: sortMatches(matches) };
}

/** The birth date a trace gives as one exact day, the date its blocking keys start with. */
function exactBirthDate(req: TraceRequest): string | undefined {
  return req.birthdate.length === 1 && req.birthdate[0].op === 'eq'
    ? req.birthdate[0].value
    : undefined;
}

/**
 * The blocking key for a birth date and a name or postcode condition: every record the two
 * conditions find holds it (patient-index.ts writes one per name and postcode, current or not).
 */
function blockedCriterion(
  param: string,
  dob: string,
  value: string,
  normalise: (s: string) => string,
): SearchCriterion {
  const { prefix } = wildcard(value, normalise);
  const op = value.includes('*') ? 'prefix' : 'eq';
  // a name given as only '*' blocks nothing: the counts pick the driver then
  return { ...one(param, op, blockingValue(dob, prefix)), drive: prefix !== '' };
}

async function fuzzyTrace(repo: Repository, req: TraceRequest): Promise<TraceResult> {
  // an exact date also finds its day/month transposition; a range (ge/le) blocks on the range itself
  const exactDob = exactBirthDate(req);
  const dobs = exactDob
    ? [exactDob, transposedDate(exactDob)].filter((d): d is string => Boolean(d))
    : [];
  const sounds = new Set<string>();
  for (const name of [req.family ?? '', ...req.given])
    for (const part of name.split(/\s+/)) if (normaliseName(part)) sounds.add(soundex(part));
  const nameOrPlace = [...sounds].map((s) => cond('phonetic', s));
  if (req.postcode) {
    const pc = normalisePostcode(req.postcode);
    nameOrPlace.push(cond('postcode', pc), cond('postcode-hist', pc));
  }
  const criteria: SearchCriterion[] = [
    ...(exactDob
      ? [{ any: dobs.map((d) => cond('birthdate', d)) }]
      : dateCriteria('birthdate', req.birthdate)),
    { any: nameOrPlace },
  ];
  // the same set again as blocking keys (a birth date with a sound, or with a postcode): the
  // search drives from these few records, not from everyone born on either day
  const blocked = dobs.flatMap((d): IndexCondition[] => [
    ...[...sounds].map((s) => cond(BLOCKING_PARAMS.phonetic, blockingValue(d, s))),
    ...(req.postcode
      ? [cond(BLOCKING_PARAMS.postcode, blockingValue(d, normalisePostcode(req.postcode)))]
      : []),
  ]);
  if (blocked.length > 0) criteria.push({ any: blocked, drive: true });
  // an email is matched exactly; fuzzy search always includes history
  if (req.email) criteria.push(valueCriterion('email', 'eq', req.email, true));
  const ids = await repo.search({ type: PATIENT, criteria, limit: FUZZY_CANDIDATE_LIMIT });
  const scored = (await repo.readMany(PATIENT, ids))
    .filter((s) => fuzzyContactMatches(req, s.resource))
    .map((s) => ({
      patient: s.resource,
      version: s.version,
      score: fuzzyScore(req, s.resource),
    }))
    .filter((m) => m.score >= FUZZY_THRESHOLD);
  const locationSearch = Boolean(req.postcode || req.gp);
  const matches = (await withSurvivors(repo, scored))
    .filter((m) => !isInvalidated(m.patient))
    // restricted records are returned (without their location data), but never to a search by
    // where someone lives or is registered (patient-search.yaml, "Restricted patients")
    .filter((m) => !(locationSearch && isRestricted(m.patient)))
    .filter((m) => !req.exact || m.score === 1);
  // as for any trace, more matches than the caller may have is TOO_MANY_MATCHES, not the best few
  // (an application-restricted caller gets one unique match or none)
  if (matches.length > req.maxResults) return { kind: 'too-many' };
  return { kind: 'matches', matches: sortMatches(matches) };
}

/**
 * The postcode and phone number a fuzzy search gives are matched, not only scored, but allowing
 * for keying slips, against every postcode and number the patient has had: a postcode within
 * POSTCODE_EDIT_TOLERANCE edits of one held (a far-off postcode, such as a ZZ99 pseudo-postcode for
 * someone with a home address, is no match), a phone number with at most one digit wrong.
 */
function fuzzyContactMatches(req: TraceRequest, patient: Patient): boolean {
  if (req.postcode) {
    const held = (patient.address ?? [])
      .map((a) => (a.postalCode ? normalisePostcode(a.postalCode) : ''))
      .filter(Boolean);
    if (nearestPostcodeDistance(normalisePostcode(req.postcode), held) > POSTCODE_EDIT_TOLERANCE)
      return false;
  }
  if (req.phone) {
    const phones = (patient.telecom ?? []).filter(
      (t) => (t.system === 'phone' || t.system === 'sms') && t.value,
    );
    if (!phones.some((t) => phoneNumbersMatch(req.phone!, t.value!))) return false;
  }
  return true;
}

/**
 * A match on a record superseded by a merge answers with the surviving record (scored on the data
 * that matched); several matches leading to one survivor count once, with the best score.
 */
async function withSurvivors(repo: Repository, matches: TraceMatch[]): Promise<TraceMatch[]> {
  const best = new Map<string, TraceMatch>();
  for (const m of matches) {
    const survivor = await survivingRecord(repo, { resource: m.patient, version: m.version });
    const current: TraceMatch | undefined = survivor
      ? { patient: survivor.resource, version: survivor.version, score: m.score }
      : undefined;
    if (!current || replacedBy(current.patient)) continue;
    const seen = best.get(current.patient.id!);
    if (!seen || seen.score < current.score) best.set(current.patient.id!, current);
  }
  return [...best.values()];
}

function sortMatches(matches: TraceMatch[]): TraceMatch[] {
  return matches.sort((a, b) => b.score - a.score || (a.patient.id! < b.patient.id! ? -1 : 1));
}

/** The facts a `_history=true` search also finds when they are no longer current. */
const HISTORY_PARAMS = new Set(['family', 'given', 'postcode', 'email', 'phone']);

/**
 * Index rows ("<param>-hist") for the names, postcodes, emails and phone numbers that earlier
 * versions of a record had and the current one no longer holds at all (a PATCH that replaced a
 * family name or an email leaves no trace of it in the document). With these beside
 * indexPatient(current), a `_history=true` search finds the record by its superseded values and
 * answers with its current data (patient-search.yaml, "History"). Dates of birth are not among
 * them: PDS does not match a previous date of birth, even with `_history` (karate
 * searchParams.feature, "Search for a PDS record based on historic DOB, family name, gender").
 */
export function supersededIndexRows(earlier: Patient[], current: Patient): IndexEntry[] {
  const key = (param: string, value: string) => `${param}\u0000${value}`;
  const held = new Set(indexPatient(current).map((e) => key(e.param, e.value)));
  const rows: IndexEntry[] = [];
  for (const version of earlier) {
    for (const e of indexPatient(version)) {
      const param = e.param.endsWith('-hist') ? e.param.slice(0, -5) : e.param;
      if (
        !HISTORY_PARAMS.has(param) ||
        held.has(key(param, e.value)) ||
        held.has(key(`${param}-hist`, e.value))
      )
        continue;
      held.add(key(`${param}-hist`, e.value));
      rows.push({ param: `${param}-hist`, value: e.value });
    }
  }
  // the blocking keys of the superseded names and postcodes, under the current birth date (a
  // blocked trace must find what the unblocked one would)
  for (const b of blockingRows(current.birthDate, rows))
    if (!held.has(key(b.param, b.value))) {
      held.add(key(b.param, b.value));
      rows.push(b);
    }
  return rows;
}
