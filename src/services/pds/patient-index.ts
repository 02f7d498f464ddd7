import type { Patient } from 'fhir/r4.js';
import type { IndexEntry } from '../../store/resource-store.js';
import { normalisePostcode } from '../../fhir/postcode.js';
import { normaliseName, soundex } from './name-matching.js';
import { BLOCKING_PARAMS, blockingValue } from './patient-blocking.js';
import { gpOdsCode, isCurrentAddress, isCurrentName, replacedBy } from './patient-model.js';

/**
 * The index rows of a Patient: what trace can search on without reading documents. Each fact is
 * indexed as current data or as history (previous names, addresses, contact details) for
 * `_history=true` and fuzzy search.
 * Previous values go under "<param>-hist" only when they are not also current, so the common record
 * with no history costs no extra rows; a `_history=true` search asks for either parameter.
 */
export function indexPatient(patient: Patient): IndexEntry[] {
  // a record has a dozen or so rows: a scan finds a repeat sooner than building a key to hash
  const rows: IndexEntry[] = [];
  const has = (param: string, value: string) =>
    rows.some((e) => e.value === value && e.param === param);
  const on = currentDay();
  const add = (param: string, value: string | undefined) => {
    if (value && !has(param, value)) rows.push({ param, value });
  };
  // a superseded record keeps its index: a search on its details finds it, and trace answers
  // with the record that replaced it
  add('replaced-by', replacedBy(patient));
  add('identifier', patient.id);
  for (const link of patient.link ?? [])
    if (link.type === 'replaces') add('identifier', link.other?.identifier?.value);

  const history: IndexEntry[] = [];
  const addHistory = (param: string, value: string | undefined) => {
    if (value) history.push({ param, value });
  };
  const addName = (param: string, raw: string | undefined, current: boolean) => {
    if (!raw) return;
    // most names are one word: split only when there is whitespace to split on
    for (const token of WHITESPACE.test(raw) ? raw.split(/\s+/) : [raw]) {
      const value = normaliseName(token);
      if (!value) continue;
      if (current) add(param, value);
      else addHistory(param, value);
      add('phonetic', soundex(value));
    }
  };
  for (const name of patient.name ?? []) {
    const current = isCurrentName(name, on);
    addName('family', name.family, current);
    for (const given of name.given ?? []) addName('given', given, current);
  }
  add('gender', patient.gender);
  add('birthdate', patient.birthDate);
  add('death-date', patient.deceasedDateTime?.slice(0, 10));
  for (const address of patient.address ?? []) {
    const pc = address.postalCode ? normalisePostcode(address.postalCode) : undefined;
    if (isCurrentAddress(address, on)) add('postcode', pc);
    else addHistory('postcode', pc);
  }
  for (const t of patient.telecom ?? []) {
    if (!t.value) continue;
    const current = !t.period?.end || t.period.end >= on;
    const param =
      t.system === 'email'
        ? 'email'
        : t.system === 'phone' || t.system === 'sms'
          ? 'phone'
          : undefined;
    if (!param) continue;
    const value =
      param === 'email' ? t.value.trim().toLowerCase() : t.value.replace(/[^0-9+]/g, '');
    if (current) add(param, value);
    else addHistory(param, value);
  }
  add('general-practitioner', gpOdsCode(patient)?.toUpperCase());
  for (const h of history) if (!has(h.param, h.value)) add(h.param + '-hist', h.value);
  rows.push(...blockingRows(patient.birthDate, rows));
  return rows;
}

/** The index params a trace blocks on with the birth date, keyed by the row param they come from. */
const BLOCKED_WITH_BIRTH_DATE: Record<string, string> = {
  family: BLOCKING_PARAMS.family,
  'family-hist': BLOCKING_PARAMS.family,
  phonetic: BLOCKING_PARAMS.phonetic,
  postcode: BLOCKING_PARAMS.postcode,
  'postcode-hist': BLOCKING_PARAMS.postcode,
};

/**
 * Blocking keys (docs/pds.md, "How a trace finds its candidates"): each family name (current or
 * previous), Soundex key and postcode (current or previous) joined to the birth date, as
 * `birthdate-family = 1976-02-26|smith`. A trace giving a birth date and a name reads only the few
 * records holding both, rather than every record born that day, whatever the register's size.
 * The birth date comes first so that `family=Sm*` is still one prefix range.
 */
export function blockingRows(birthDate: string | undefined, rows: IndexEntry[]): IndexEntry[] {
  if (!birthDate) return [];
  const keys: IndexEntry[] = [];
  for (const row of rows) {
    const param = BLOCKED_WITH_BIRTH_DATE[row.param];
    if (param) keys.push({ param, value: blockingValue(birthDate, row.value) });
  }
  return keys;
}

const WHITESPACE = /\s/;
const DAY_MS = 86_400_000;
let cachedDay = { number: NaN, date: '' };

/** today() (the UTC date), worked out once per UTC day rather than once per patient (a bulk seed indexes many). */
function currentDay(): string {
  const number = Math.floor(Date.now() / DAY_MS);
  if (number !== cachedDay.number)
    cachedDay = { number, date: new Date(number * DAY_MS).toISOString().slice(0, 10) };
  return cachedDay.date;
}
