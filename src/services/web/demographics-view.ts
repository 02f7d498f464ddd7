/**
 * What the demographics page shows of a PDS Patient: names, birth, gender, addresses, contact
 * details, GP practice and nominated pharmacy (with their names from the directory when the role
 * may read it). A restricted record carries none of its location (PDS withholds it); the page says
 * so instead of showing empty rows.
 */
import { API } from './api-paths.js';
import {
  confidentiality,
  editValuesOf,
  fullName,
  gpCode,
  pharmacyCode,
  addressText,
  type EditValues,
  type Json,
} from './demographics-model.js';
import { roleCan } from './navigation.js';
import type { PageTools } from './web-page.js';

const list = (v: unknown): any[] => (Array.isArray(v) ? v : []);
const today = () => new Date().toISOString().slice(0, 10);
const ended = (item: any) => Boolean(item?.period?.end) && String(item.period.end) < today();
const USES: Record<string, string> = {
  usual: 'Usual',
  official: 'Official',
  nickname: 'Preferred',
  temp: 'Temporary',
  old: 'Previous',
  maiden: 'Maiden',
  home: 'Home',
  work: 'Work',
  mobile: 'Mobile',
  billing: 'Correspondence',
};
const SYSTEMS: Record<string, string> = {
  phone: 'Phone',
  email: 'Email',
  sms: 'Text message',
  fax: 'Fax',
  other: 'Other contact',
};

export interface Organisation {
  code: string;
  /** The directory's name for it; absent when the role may not read the directory or it is not there. */
  name?: string;
  lookup: 'found' | 'not-found' | 'not-allowed';
}

/** An ODS code with the directory's name for it, when the signed-in role may read the directory. */
export async function organisation(tools: PageTools, code: string): Promise<Organisation> {
  if (!roleCan(tools.user, 'directory.read')) return { code, lookup: 'not-allowed' };
  if (!/^[A-Z0-9]{3,10}$/i.test(code)) return { code, lookup: 'not-found' };
  const res = await tools.call({
    url: `${API.directory}/Organization/${encodeURIComponent(code)}`,
  });
  return res.status === 200 && typeof res.body?.name === 'string'
    ? { code, name: res.body.name, lookup: 'found' }
    : { code, lookup: 'not-found' };
}

export async function demographicsOf(tools: PageTools, patient: Json) {
  const label = confidentiality(patient);
  const names = list(patient.name).map((n) => ({
    text: fullName(n) || 'Name not given',
    use: USES[n.use] ?? 'Name',
    from: n.period?.start,
    to: n.period?.end,
    previous: ended(n),
  }));
  const addresses = list(patient.address).map((a) => ({
    lines: [...list(a.line), a.city].filter((l) => typeof l === 'string' && l.trim()),
    postcode: a.postalCode,
    use: USES[a.use] ?? 'Address',
    from: a.period?.start,
    to: a.period?.end,
    previous: ended(a),
    text: addressText(a),
  }));
  const telecoms = list(patient.telecom)
    .filter((t) => !ended(t))
    .map((t) => ({
      label: `${SYSTEMS[t.system] ?? 'Contact'}${t.use && USES[t.use] ? ` (${USES[t.use].toLowerCase()})` : ''}`,
      value: String(t.value ?? ''),
      system: t.system,
    }));
  const gp = gpCode(patient);
  const pharmacy = pharmacyCode(patient);
  return {
    label,
    restricted: label !== 'U',
    names,
    birthDate: patient.birthDate,
    gender: patient.gender,
    deceased: patient.deceasedDateTime,
    addresses,
    telecoms,
    gp: gp ? await organisation(tools, gp) : undefined,
    pharmacy: pharmacy ? await organisation(tools, pharmacy) : undefined,
  };
}

const GROUPS: { label: string; keys: (keyof EditValues)[] }[] = [
  { label: 'Home address', keys: ['line1', 'line2', 'town', 'postcode'] },
  { label: 'Phone', keys: ['phone'] },
  { label: 'Email', keys: ['email'] },
  { label: 'GP practice', keys: ['gp'] },
  { label: 'Nominated pharmacy', keys: ['pharmacy'] },
];
const shown = (v: EditValues, keys: (keyof EditValues)[]) =>
  keys
    .map((k) => v[k])
    .filter(Boolean)
    .join(', ');

/**
 * A person's change made again on the record as it is now: the current values, with each field
 * (the address as one) they changed from the version they edited set to what they entered.
 */
export function reapply(
  base: Json | undefined,
  current: Json,
  entered: EditValues,
): { values: EditValues; yours: { label: string; before: string; after: string }[] } {
  const was = base ? editValuesOf(base) : editValuesOf(current);
  const values = editValuesOf(current);
  const yours = [];
  for (const group of GROUPS) {
    if (group.keys.every((k) => entered[k] === was[k])) continue;
    for (const k of group.keys) values[k] = entered[k];
    yours.push({
      label: group.label,
      before: shown(was, group.keys),
      after: shown(entered, group.keys),
    });
  }
  return { values, yours };
}
