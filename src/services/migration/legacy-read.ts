import type pg from 'pg';
import { CHILD_TABLES, checkSchemaName, type ChildTable } from './legacy-schema.js';

/**
 * Reads the legacy source in keyset-paged slices: patients of one partition (patient_id mod n),
 * each slice with every child row of its patients, and the orphaned child rows on their own.
 * Dates come back as ISO text (to_char), so no time zone ever touches them.
 */

export interface PatientRow {
  key: string;
  nhs_number: string | null;
  sex: string | null;
  date_of_birth: string | null;
  date_of_death: string | null;
  death_status: string | null;
  restricted: string;
  pharmacy_ods: string | null;
  superseded_by: string | null;
  /** The lowest other patient_id holding the same (cleaned) number, if any. */
  duplicate_of: string | null;
  /** Whether superseded_by names a number the legacy store holds. */
  survivor_exists: boolean;
  /** Cleaned numbers of the patients merged into this one. */
  replaces: string[];
}

/** A child row: its key, its patient key, and the table's own columns. */
export interface ChildRow {
  key: string;
  patient_id: string;
  [column: string]: unknown;
}

const D = (c: string) => `to_char(${c}, 'YYYY-MM-DD') AS ${c}`;
const TS = (c: string) => `to_char(${c}, 'YYYY-MM-DD"T"HH24:MI:SS') AS ${c}`;

const CHILD_COLUMNS: Record<ChildTable, string> = {
  patient_names: `name_key, name_use, title, forenames, surname, ${D('valid_from')}, ${D('valid_to')}`,
  addresses: `address_key, line1, line2, line3, line4, line5, postcode, ${D('valid_from')}, ${D('valid_to')}`,
  contacts: 'contact_key, kind, contact_use, value',
  gp_registrations: `registration_key, practice_ods, ${D('registered_from')}`,
  allergies: `substance_code, substance_name, reaction, severity, ${D('recorded_on')}`,
  medications: `drug_code, drug_name, dosage, ${D('started_on')}, status`,
  prescriptions: `medication_id::text AS medication_id, drug_code, drug_name, quantity, prescriber_ods, ${TS('issued_at')}, status`,
  audit_log: `user_id, action, ${TS('occurred_at')}`,
};

const CLEAN = (col: string) => `regexp_replace(${col}, '\\s', '', 'g')`;

export function patientSql(schema: string): string {
  const s = checkSchemaName(schema);
  return `SELECT p.patient_id::text AS key, p.nhs_number, p.sex, p.date_of_birth, ${TS('p.date_of_death').replace('AS p.', 'AS ')},
    p.death_status, p.restricted, p.pharmacy_ods, p.superseded_by,
    (SELECT min(q.patient_id)::text FROM ${s}.patients q WHERE ${CLEAN('q.nhs_number')} = ${CLEAN('p.nhs_number')} AND q.patient_id < p.patient_id) AS duplicate_of,
    (p.superseded_by IS NOT NULL AND EXISTS (SELECT 1 FROM ${s}.patients q WHERE ${CLEAN('q.nhs_number')} = p.superseded_by)) AS survivor_exists,
    ARRAY(SELECT DISTINCT ${CLEAN('q.nhs_number')} FROM ${s}.patients q WHERE q.superseded_by = ${CLEAN('p.nhs_number')} ORDER BY 1) AS replaces
  FROM ${s}.patients p`;
}

export class LegacyReader {
  private readonly s: string;
  constructor(
    private readonly client: pg.ClientBase,
    schema: string,
  ) {
    this.s = checkSchemaName(schema);
  }

  /** The next patients of partition `part` of `parts` after key `after`, in key order. */
  async patients(parts: number, part: number, after: string, limit: number): Promise<PatientRow[]> {
    const { rows } = await this.client.query<PatientRow>(
      `${patientSql(this.s)} WHERE p.patient_id % $1 = $2 AND p.patient_id > $3 ORDER BY p.patient_id LIMIT $4`,
      [parts, part, after, limit],
    );
    return rows;
  }

  /** These patients by key (for sample re-reads). */
  async patientsByKey(keys: string[]): Promise<PatientRow[]> {
    const { rows } = await this.client.query<PatientRow>(
      `${patientSql(this.s)} WHERE p.patient_id = ANY($1::bigint[]) ORDER BY p.patient_id`,
      [keys],
    );
    return rows;
  }

  /** Every row of `table` belonging to these patients, in key order. */
  async children(table: ChildTable, patientKeys: string[]): Promise<ChildRow[]> {
    const pk = CHILD_TABLES[table];
    const { rows } = await this.client.query<ChildRow>(
      `SELECT ${pk}::text AS key, patient_id::text AS patient_id, ${CHILD_COLUMNS[table]} FROM ${this.s}.${table} WHERE patient_id = ANY($1::bigint[]) ORDER BY ${pk}`,
      [patientKeys],
    );
    return rows;
  }

  /** Rows of `table` whose patient does not exist, after key `after`, in key order. */
  async orphans(table: ChildTable, after: string, limit: number): Promise<ChildRow[]> {
    const pk = CHILD_TABLES[table];
    const { rows } = await this.client.query<ChildRow>(
      `SELECT t.${pk}::text AS key, t.patient_id::text AS patient_id, ${CHILD_COLUMNS[table]} FROM ${this.s}.${table} t
       WHERE t.${pk} > $1 AND NOT EXISTS (SELECT 1 FROM ${this.s}.patients p WHERE p.patient_id = t.patient_id) ORDER BY t.${pk} LIMIT $2`,
      [after, limit],
    );
    return rows;
  }

  /** Row counts of every table. */
  async counts(): Promise<Record<string, number>> {
    const tables = ['patients', ...Object.keys(CHILD_TABLES)];
    const { rows } = await this.client.query<{ t: string; n: number }>(
      tables
        .map((t) => `SELECT '${t}' AS t, count(*)::int AS n FROM ${this.s}.${t}`)
        .join(' UNION ALL '),
    );
    return Object.fromEntries(rows.map((r) => [r.t, r.n]));
  }

  /** A random sample of patient keys. */
  async samplePatientKeys(n: number): Promise<string[]> {
    const { rows } = await this.client.query<{ key: string }>(
      `SELECT patient_id::text AS key FROM ${this.s}.patients ORDER BY random() LIMIT $1`,
      [n],
    );
    return rows.map((r) => r.key);
  }
}
