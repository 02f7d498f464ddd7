import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import type { ChildTable } from './legacy-schema.js';
import type { ChildRow, PatientRow } from './legacy-read.js';

/**
 * Field-level cleaning of legacy rows: the one place that decides what a legacy value means (or
 * that it means nothing, and why). Both the migration and the reconciliation go through here.
 */

const MONTHS: Record<string, string> = {
  JAN: '01',
  FEB: '02',
  MAR: '03',
  APR: '04',
  MAY: '05',
  JUN: '06',
  JUL: '07',
  AUG: '08',
  SEP: '09',
  OCT: '10',
  NOV: '11',
  DEC: '12',
};

/** A real calendar date as YYYY-MM-DD, or null. */
function realDate(y: string, m: string, d: string): string | null {
  const iso = `${y}-${m.padStart(2, '0')}-${d.padStart(2, '0')}`;
  const t = Date.parse(iso + 'T00:00:00Z');
  return Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== iso ? null : iso;
}

/** The free-text date formats the legacy front ends accepted; null when none fits a real date. */
export function parseLegacyDate(text: string | null): string | null {
  const s = (text ?? '').trim().toUpperCase();
  let m: RegExpExecArray | null;
  if ((m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s))) return realDate(m[1], m[2], m[3]);
  if ((m = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(s))) return realDate(m[3], m[2], m[1]);
  if ((m = /^(\d{1,2})-([A-Z]{3})-(\d{4})$/.exec(s)))
    return MONTHS[m[2]] ? realDate(m[3], MONTHS[m[2]], m[1]) : null;
  if ((m = /^(\d{4})(\d{2})(\d{2})$/.exec(s))) return realDate(m[1], m[2], m[3]);
  return null;
}

/**
 * Text from an ISO-8859-1 column. Some front ends wrote UTF-8 bytes into it; when the bytes are
 * valid UTF-8 with multi-byte sequences, that is what they were (latin-1 text almost never is).
 */
export function decodeLegacyText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(String(value), 'latin1');
  if (buf.some((b) => b >= 0x80)) {
    const utf8 = buf.toString('utf8');
    if (!utf8.includes('\ufffd')) return utf8;
  }
  return buf.toString('latin1');
}

/** The digits of a legacy NHS Number (keyed with or without spaces). */
export const cleanNhsNumber = (raw: string | null): string => (raw ?? '').replace(/\s/g, '');

const GENDERS: Record<string, string> = { M: 'male', F: 'female', I: 'other', U: 'unknown' };

export interface CleanName {
  key: string;
  use: string;
  title: string | null;
  given: string[];
  family: string;
  start: string | null;
  end: string | null;
}
export interface CleanAddress {
  key: string;
  lines: string[];
  postcode: string | null;
  start: string | null;
  end: string | null;
}
export interface CleanContact {
  key: string;
  system: string;
  use: string | null;
  value: string;
}
export interface CleanGp {
  key: string;
  ods: string;
  start: string | null;
}
export interface CleanAllergy {
  key: string;
  code: string;
  name: string;
  reaction: string | null;
  severity: string | null;
  recorded: string | null;
}
export interface CleanMedication {
  key: string;
  code: string;
  name: string;
  dosage: string | null;
  started: string | null;
  status: string;
}
export interface CleanPrescription {
  key: string;
  medicationKey: string | null;
  code: string;
  name: string;
  quantity: number | null;
  prescriber: string | null;
  issued: string | null;
  status: string;
}
export interface CleanAudit {
  key: string;
  userId: string;
  action: string;
  time: string;
}

export interface CleanPatient {
  key: string;
  nhs: string;
  gender: string;
  birthDate: string;
  deceased: string | null;
  formalDeathNotice: boolean;
  restricted: boolean;
  pharmacy: string | null;
  supersededBy: string | null;
  replaces: string[];
  names: CleanName[];
  addresses: CleanAddress[];
  contacts: CleanContact[];
  gps: CleanGp[];
  allergies: CleanAllergy[];
  medications: CleanMedication[];
  prescriptions: CleanPrescription[];
  audit: CleanAudit[];
}

export type Children = Record<ChildTable, ChildRow[]>;

/** Why a patient row cannot be migrated, or null when it can. */
export function patientProblem(row: PatientRow): string | null {
  const nhs = cleanNhsNumber(row.nhs_number);
  if (!nhs) return 'missing NHS Number';
  if (!isValidNhsNumber(nhs))
    return `invalid NHS Number '${nhs.slice(0, 16)}' (not 10 digits with a valid check digit)`;
  if (row.duplicate_of)
    return `duplicate of legacy patient ${row.duplicate_of} (same NHS Number ${nhs})`;
  if (!parseLegacyDate(row.date_of_birth))
    return `unreadable date of birth '${(row.date_of_birth ?? '').slice(0, 32)}'`;
  if (!GENDERS[row.sex ?? '']) return `unknown sex code '${row.sex ?? ''}'`;
  if (row.superseded_by !== null) {
    if (!isValidNhsNumber(row.superseded_by))
      return `superseded by an invalid NHS Number '${row.superseded_by.slice(0, 16)}'`;
    if (!row.survivor_exists)
      return `superseded by NHS Number ${row.superseded_by}, which the legacy store does not hold`;
  }
  return null;
}

const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** A migratable patient row and its children as clean values (call patientProblem first). */
export function cleanPatient(row: PatientRow, c: Children): CleanPatient {
  return {
    key: row.key,
    nhs: cleanNhsNumber(row.nhs_number),
    gender: GENDERS[row.sex!],
    birthDate: parseLegacyDate(row.date_of_birth)!,
    deceased: row.date_of_death ? row.date_of_death + '+00:00' : null,
    formalDeathNotice: row.death_status === '2',
    restricted: row.restricted === 'Y',
    pharmacy: row.pharmacy_ods,
    supersededBy: row.superseded_by,
    replaces: row.replaces.filter(
      (n) => isValidNhsNumber(n) && n !== cleanNhsNumber(row.nhs_number),
    ),
    names: c.patient_names.map((n) => ({
      key: str(n.name_key) ?? n.key,
      use: str(n.name_use) ?? 'usual',
      title: str(n.title),
      given: (decodeLegacyText(n.forenames) ?? '').split(/\s+/).filter(Boolean),
      family: decodeLegacyText(n.surname) ?? '',
      start: str(n.valid_from),
      end: str(n.valid_to),
    })),
    addresses: c.addresses.map((a) => ({
      key: str(a.address_key) ?? a.key,
      lines: [a.line1, a.line2, a.line3, a.line4, a.line5]
        .map(decodeLegacyText)
        .filter((l): l is string => !!l),
      postcode: str(a.postcode),
      start: str(a.valid_from),
      end: str(a.valid_to),
    })),
    contacts: c.contacts.map((t) => ({
      key: str(t.contact_key) ?? t.key,
      system: str(t.kind) ?? 'phone',
      use: str(t.contact_use),
      value: str(t.value) ?? '',
    })),
    gps: c.gp_registrations.map((g) => ({
      key: str(g.registration_key) ?? g.key,
      ods: str(g.practice_ods) ?? '',
      start: str(g.registered_from),
    })),
    allergies: c.allergies.map((a) => ({
      key: a.key,
      code: str(a.substance_code) ?? '',
      name: str(a.substance_name) ?? '',
      reaction: str(a.reaction),
      severity: str(a.severity),
      recorded: str(a.recorded_on),
    })),
    medications: c.medications.map((m) => ({
      key: m.key,
      code: str(m.drug_code) ?? '',
      name: str(m.drug_name) ?? '',
      dosage: str(m.dosage),
      started: str(m.started_on),
      status: str(m.status) ?? 'active',
    })),
    prescriptions: c.prescriptions.map((p) => ({
      key: p.key,
      medicationKey: str(p.medication_id),
      code: str(p.drug_code) ?? '',
      name: str(p.drug_name) ?? '',
      quantity: p.quantity === null || p.quantity === undefined ? null : Number(p.quantity),
      prescriber: str(p.prescriber_ods),
      issued: p.issued_at ? p.issued_at + '+00:00' : null,
      status: str(p.status) ?? 'issued',
    })),
    audit: c.audit_log.map((a) => ({
      key: a.key,
      userId: str(a.user_id) ?? 'unknown',
      action: str(a.action) ?? 'UNKNOWN',
      time: `${a.occurred_at}.000Z`,
    })),
  };
}

/** Groups child rows by patient key. */
export function groupChildren(
  tables: ChildTable[],
  rows: Record<ChildTable, ChildRow[]>,
): Map<string, Children> {
  const by = new Map<string, Children>();
  for (const t of tables) {
    for (const r of rows[t]) {
      let c = by.get(r.patient_id);
      if (!c)
        by.set(
          r.patient_id,
          (c = Object.fromEntries(tables.map((x) => [x, []])) as unknown as Children),
        );
      c[t].push(r);
    }
  }
  return by;
}
