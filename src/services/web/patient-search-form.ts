/**
 * The "Find a patient" forms: what was entered, its checks (the NHS error summary's messages, one
 * per field), the PDS trace query it becomes, and the rows of PDS's answer as the results table
 * shows them. Pure functions: the routes are in patient-search-pages.ts.
 */
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { outcomeMessages } from './web-errors.js';
import { displayName } from './patient-record.js';

/** What PDS may be asked for at most: more matches than this is "too many, add detail". */
export const MAX_RESULTS = 10;
const GENDERS = ['female', 'male', 'other', 'unknown'] as const;

export interface FieldError {
  text: string;
  href: string;
}

export interface DetailsSearch {
  family?: string;
  given?: string;
  day?: string;
  month?: string;
  year?: string;
  gender?: string;
  postcode?: string;
  fuzzy: boolean;
}

type Field = (name: string) => string | undefined;

export function readDetails(field: Field): DetailsSearch {
  return {
    family: field('family-name'),
    given: field('given-name'),
    day: field('birth-date[day]'),
    month: field('birth-date[month]'),
    year: field('birth-date[year]'),
    gender: field('gender'),
    postcode: field('postcode'),
    fuzzy: field('fuzzy') === 'yes',
  };
}

/** An NHS Number as typed (spaces and dashes allowed), or the error to show. */
export function checkNhsNumber(raw: string | undefined): { nhs?: string; error?: FieldError } {
  const href = '#nhs-number';
  if (!raw) return { error: { text: 'Enter an NHS Number', href } };
  const digits = raw.replace(/[\s-]/g, '');
  if (!/^\d{10}$/.test(digits))
    return { error: { text: 'NHS Number must be 10 digits, like 943 476 5919', href } };
  if (!isValidNhsNumber(digits))
    return { error: { text: 'Enter a valid NHS Number: check each digit', href } };
  return { nhs: digits };
}

/** The date of birth as YYYY-MM-DD, or the error to show. */
function birthDate(s: DetailsSearch): { iso?: string; error?: FieldError } {
  const href = '#birth-date-day';
  if (!s.day && !s.month && !s.year)
    return { error: { text: "Enter the patient's date of birth", href } };
  if (!s.day || !s.month || !s.year) {
    const missing = [!s.day && 'day', !s.month && 'month', !s.year && 'year'].filter(Boolean);
    return { error: { text: `Date of birth must include a ${missing.join(' and ')}`, href } };
  }
  const [d, m, y] = [s.day, s.month, s.year];
  if (!/^\d{1,2}$/.test(d) || !/^\d{1,2}$/.test(m) || !/^\d{4}$/.test(y))
    return { error: { text: 'Date of birth must be a real date', href } };
  const iso = `${y}-${m.padStart(2, '0')}-${d.padStart(2, '0')}`;
  const date = new Date(`${iso}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== iso)
    return { error: { text: 'Date of birth must be a real date', href } };
  if (iso > new Date().toISOString().slice(0, 10))
    return { error: { text: 'Date of birth must be today or in the past', href } };
  if (Number(y) < 1850) return { error: { text: 'Date of birth must be after 1850', href } };
  return { iso };
}

/**
 * The search by details checked the way PDS will check it (so most mistakes are explained before
 * PDS is asked): a date of birth, then enough else for the kind of search.
 */
export function checkDetails(s: DetailsSearch): { query?: string; errors: FieldError[] } {
  const errors: FieldError[] = [];
  if (s.gender && !(GENDERS as readonly string[]).includes(s.gender))
    errors.push({ text: 'Select a gender from the list', href: '#gender' });
  const dob = birthDate(s);
  if (dob.error) errors.push(dob.error);
  if (s.fuzzy) {
    const enough =
      (s.given && s.family) ||
      (s.family && s.gender && s.postcode) ||
      (s.given && s.gender && s.postcode);
    if (!enough)
      errors.push({
        text: 'For a fuzzy match, enter the given and family names, or one name with the gender and postcode',
        href: s.family ? '#given-name' : '#family-name',
      });
    if ([s.family, s.given, s.postcode].some((v) => v?.includes('*')))
      errors.push({
        text: 'A fuzzy match cannot use a wildcard (*): enter the whole name',
        href: '#family-name',
      });
  } else if (!s.family && !s.given && !s.postcode) {
    errors.push({ text: "Enter the patient's family name", href: '#family-name' });
  }
  if (errors.length) return { errors };
  const params = new URLSearchParams();
  if (s.family) params.set('family', s.family);
  if (s.given) params.set('given', s.given);
  params.set('birthdate', `eq${dob.iso}`);
  if (s.gender) params.set('gender', s.gender);
  if (s.postcode) params.set('address-postalcode', s.postcode);
  if (s.fuzzy) params.set('_fuzzy-match', 'true');
  params.set('_max-results', String(MAX_RESULTS));
  return { query: params.toString(), errors };
}

const PDS_FIELDS: [RegExp, string][] = [
  [/'family'/, '#family-name'],
  [/'given'/, '#given-name'],
  [/birth/, '#birth-date-day'],
  [/'gender'/, '#gender'],
  [/postalcode|postcode/, '#postcode'],
];

/** PDS's refusal of a trace as the error summary: its own words, at the field it names. */
export function pdsSearchErrors(body: unknown): FieldError[] {
  const { messages } = outcomeMessages(body);
  const texts = messages.length ? messages : ['PDS could not search with these details'];
  return texts.map((text) => ({
    text: `The national register could not search with these details: ${text}`,
    href: PDS_FIELDS.find(([re]) => re.test(text))?.[1] ?? '#family-name',
  }));
}

export interface ResultRow {
  nhsNumber: string;
  name: string;
  birthDate?: string;
  gender?: string;
  postcode?: string;
  restricted: boolean;
}

const isRestricted = (p: any) =>
  (p?.meta?.security ?? []).some((l: any) => l?.code === 'R' || l?.code === 'V');

/** A search entry (PDS's reduced Patient) as a row of the results table. */
export function resultRow(patient: any): ResultRow {
  const restricted = isRestricted(patient);
  const home = (patient.address ?? []).find((a: any) => a?.use === 'home') ?? patient.address?.[0];
  return {
    nhsNumber: String(patient.id),
    name: displayName(patient),
    birthDate: patient.birthDate,
    gender: patient.gender,
    postcode: restricted ? undefined : home?.postalCode,
    restricted,
  };
}

/** The outcome of a trace: rows, or PDS's "too many matches" (an OperationOutcome, 200). */
export function traceOutcome(body: any): { tooMany: boolean; rows: ResultRow[] } {
  if (body?.resourceType === 'OperationOutcome') {
    const { code } = outcomeMessages(body);
    return { tooMany: code === 'TOO_MANY_MATCHES', rows: [] };
  }
  const entries: any[] = Array.isArray(body?.entry) ? body.entry : [];
  return { tooMany: false, rows: entries.map((e) => resultRow(e.resource)) };
}
