import type { Patient } from 'fhir/r4.js';
import type { IndexEntry } from '../../store/types.js';
import { normaliseName, normalisePostcode, soundex } from './name-matching.js';
import { gpOdsCode, isCurrentAddress, isCurrentName, replacedBy, today } from './patient-model.js';

/**
 * The index rows of a Patient: what trace can search on without reading documents. Each fact is
 * indexed as current data or as history (previous names, addresses, contact details) for
 * `_history=true` and fuzzy search.
 * Previous values go under "<param>-hist" only when they are not also current, so the common record
 * with no history costs no extra rows; a `_history=true` search asks for either parameter.
 */
export function indexPatient(patient: Patient): IndexEntry[] {
  const rows = new Map<string, IndexEntry>();
  const on = today();
  const add = (param: string, value: string | undefined) => {
    if (value) rows.set(param + '\u0000' + value, { param, value });
  };
  // a superseded record keeps its index: a search on its details finds it, and trace answers
  // with the record that replaced it
  add('replaced-by', replacedBy(patient));
  add('identifier', patient.id);
  for (const link of patient.link ?? []) if (link.type === 'replaces') add('identifier', link.other?.identifier?.value);

  const history: IndexEntry[] = [];
  const addHistory = (param: string, value: string | undefined) => { if (value) history.push({ param, value }); };
  for (const name of patient.name ?? []) {
    const current = isCurrentName(name, on);
    const parts: [string, string | undefined][] = [['family', name.family], ...(name.given ?? []).map((g) => ['given', g] as [string, string])];
    for (const [param, raw] of parts) {
      for (const token of (raw ?? '').split(/\s+/)) {
        const value = normaliseName(token);
        if (!value) continue;
        if (current) add(param, value);
        else addHistory(param, value);
        add('phonetic', soundex(value));
      }
    }
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
    const param = t.system === 'email' ? 'email' : t.system === 'phone' || t.system === 'sms' ? 'phone' : undefined;
    if (!param) continue;
    const value = param === 'email' ? t.value.trim().toLowerCase() : t.value.replace(/[^0-9+]/g, '');
    if (current) add(param, value);
    else addHistory(param, value);
  }
  add('general-practitioner', gpOdsCode(patient)?.toUpperCase());
  for (const h of history) if (!rows.has(h.param + '\u0000' + h.value)) add(h.param + '-hist', h.value);
  return [...rows.values()];
}
