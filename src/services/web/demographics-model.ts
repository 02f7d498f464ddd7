/**
 * A PDS Patient as the demographics pages show it and edit it: the summary's rows, the values the
 * update form starts from, and what differs between two versions, field by field. Pure functions
 * over the Patient PDS answered (the record's shown order is the order a patch's indices refer to).
 */
import { displayName } from './patient-record.js';
import { formatUkDate } from './template-filters.js';

export const NOMINATED_PHARMACY = '/Extension-UKCore-NominatedPharmacy';

export type Json = Record<string, any>;

const list = (v: unknown): any[] => (Array.isArray(v) ? v : []);
const today = () => new Date().toISOString().slice(0, 10);
const isCurrent = (item: any) => !item?.period?.end || String(item.period.end) >= today();

/** The record's confidentiality: R (restricted) and V (very restricted) withhold location. */
export function confidentiality(patient: Json): 'U' | 'R' | 'V' {
  const codes = list(patient.meta?.security).map((l) => l?.code);
  return codes.includes('V') ? 'V' : codes.includes('R') ? 'R' : 'U';
}

/** "Mrs Jane SMITH MBE": every part of one name. */
export function fullName(name: Json): string {
  const parts = [
    ...list(name.prefix),
    ...list(name.given),
    typeof name.family === 'string' ? name.family.toUpperCase() : undefined,
    ...list(name.suffix),
  ];
  return parts.filter((p) => typeof p === 'string' && p.trim()).join(' ');
}

/** The address the form edits: the current home address (PDS shows it first), with its index. */
export function homeAddress(patient: Json): { index: number; address: Json } | undefined {
  const index = list(patient.address).findIndex((a) => a?.use === 'home' && isCurrent(a));
  return index === -1 ? undefined : { index, address: patient.address[index] };
}

/** The first current telecom of a system ('phone' or 'email'), with its index. */
export function telecomOf(
  patient: Json,
  system: 'phone' | 'email',
): { index: number; telecom: Json } | undefined {
  const index = list(patient.telecom).findIndex((t) => t?.system === system && isCurrent(t));
  return index === -1 ? undefined : { index, telecom: patient.telecom[index] };
}

export function pharmacyOf(patient: Json): { index: number; extension: Json } | undefined {
  const index = list(patient.extension).findIndex(
    (e) => typeof e?.url === 'string' && e.url.endsWith(NOMINATED_PHARMACY),
  );
  return index === -1 ? undefined : { index, extension: patient.extension[index] };
}

export function gpCode(patient: Json): string | undefined {
  const gp = list(patient.generalPractitioner).find((g) => isCurrentGp(g));
  return typeof gp?.identifier?.value === 'string' ? gp.identifier.value : undefined;
}
const isCurrentGp = (g: any) =>
  !g?.identifier?.period?.end || String(g.identifier.period.end) >= today();

export function pharmacyCode(patient: Json): string | undefined {
  const value = pharmacyOf(patient)?.extension.valueReference?.identifier?.value;
  return typeof value === 'string' ? value : undefined;
}

/** The values the update form shows: what the record holds now, in the form's fields. */
export interface EditValues {
  line1: string;
  line2: string;
  town: string;
  postcode: string;
  phone: string;
  email: string;
  gp: string;
  pharmacy: string;
}

export const EDIT_FIELDS: (keyof EditValues)[] = [
  'line1',
  'line2',
  'town',
  'postcode',
  'phone',
  'email',
  'gp',
  'pharmacy',
];

/**
 * An address's lines in the form's three fields: the first line, the last (the town) and the
 * lines between joined. The form writes [line 1, line 2 (when given), town], which reads back
 * the same.
 */
export function addressFields(
  address: Json | undefined,
): Pick<EditValues, 'line1' | 'line2' | 'town' | 'postcode'> {
  const lines = list(address?.line).filter((l) => typeof l === 'string' && l.trim());
  if (typeof address?.city === 'string' && address.city.trim()) lines.push(address.city);
  const postcode = typeof address?.postalCode === 'string' ? address.postalCode : '';
  if (lines.length === 0) return { line1: '', line2: '', town: '', postcode };
  if (lines.length === 1) return { line1: lines[0], line2: '', town: '', postcode };
  return {
    line1: lines[0],
    line2: lines.slice(1, -1).join(', '),
    town: lines[lines.length - 1],
    postcode,
  };
}

export function editValuesOf(patient: Json): EditValues {
  return {
    ...addressFields(homeAddress(patient)?.address),
    phone: String(telecomOf(patient, 'phone')?.telecom.value ?? ''),
    email: String(telecomOf(patient, 'email')?.telecom.value ?? ''),
    gp: gpCode(patient) ?? '',
    pharmacy: pharmacyCode(patient) ?? '',
  };
}

/** An address on one line, as the summary and the comparison show it. */
export function addressText(address: Json | undefined): string {
  if (!address) return '';
  const lines = list(address.line).filter((l) => typeof l === 'string' && l.trim());
  return [...lines, address.city, address.postalCode]
    .filter((p) => typeof p === 'string' && p.trim())
    .join(', ');
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** The fields a person compares between two versions of the record, as text. */
export function comparableFields(patient: Json): { label: string; value: string }[] {
  const names = list(patient.name).filter(isCurrent);
  return [
    { label: 'Name', value: names.map(fullName).join('; ') || displayName(patient) },
    { label: 'Date of birth', value: patient.birthDate ? formatUkDate(patient.birthDate) : '' },
    { label: 'Gender', value: capitalise(String(patient.gender ?? '')) },
    { label: 'Home address', value: addressText(homeAddress(patient)?.address) },
    { label: 'Phone', value: String(telecomOf(patient, 'phone')?.telecom.value ?? '') },
    { label: 'Email', value: String(telecomOf(patient, 'email')?.telecom.value ?? '') },
    { label: 'GP practice', value: gpCode(patient) ?? '' },
    { label: 'Nominated pharmacy', value: pharmacyCode(patient) ?? '' },
  ];
}

export interface FieldChange {
  label: string;
  before: string;
  after: string;
}

/** What differs between the version a person edited and the record now, field by field. */
export function changesBetween(before: Json, after: Json): FieldChange[] {
  const old = comparableFields(before);
  return comparableFields(after)
    .map((f, i) => ({ label: f.label, before: old[i].value, after: f.value }))
    .filter((c) => c.before !== c.after);
}
