/**
 * The legacy source: a relational schema in the style of an Oracle-era national system (surrogate
 * numeric keys, one table per repeating group, free-text dates, names held as ISO-8859-1 bytes).
 * `openspine legacy generate` creates and fills it; `openspine migrate` reads it.
 */

/** The child tables, each keyed by its own surrogate id and pointing at patients.patient_id. */
export const CHILD_TABLES = {
  patient_names: 'name_id',
  addresses: 'address_id',
  contacts: 'contact_id',
  gp_registrations: 'registration_id',
  allergies: 'allergy_id',
  medications: 'medication_id',
  prescriptions: 'prescription_id',
  audit_log: 'audit_id',
} as const;
export type ChildTable = keyof typeof CHILD_TABLES;
export type LegacyTable = 'patients' | ChildTable;
export const LEGACY_TABLES: LegacyTable[] = [
  'patients',
  ...(Object.keys(CHILD_TABLES) as ChildTable[]),
];

/** A PostgreSQL schema name we are willing to interpolate into SQL. */
export function checkSchemaName(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name))
    throw new Error(`legacy schema must be a lower-case SQL identifier, got '${name}'`);
  return name;
}

export function legacyDdl(schema: string): string {
  const s = checkSchemaName(schema);
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE ${s}.patients (
  patient_id bigint PRIMARY KEY, nhs_number varchar(16), sex char(1), date_of_birth varchar(32),
  date_of_death timestamp, death_status char(1), restricted char(1) NOT NULL, pharmacy_ods varchar(10),
  superseded_by varchar(16), last_modified timestamp NOT NULL);
-- the DBA's functional index for de-duplication: numbers were keyed with and without spaces
CREATE INDEX patients_nhs_clean ON ${s}.patients ((regexp_replace(nhs_number, '\\s', '', 'g')), patient_id);
CREATE INDEX patients_superseded_by ON ${s}.patients (superseded_by);
CREATE TABLE ${s}.patient_names (
  name_id bigint PRIMARY KEY, patient_id bigint NOT NULL, name_key varchar(16), name_use varchar(8),
  title varchar(16), forenames bytea, surname bytea, valid_from date, valid_to date);
CREATE TABLE ${s}.addresses (
  address_id bigint PRIMARY KEY, patient_id bigint NOT NULL, address_key varchar(16), line1 bytea, line2 bytea,
  line3 bytea, line4 bytea, line5 bytea, postcode varchar(10), valid_from date, valid_to date);
CREATE TABLE ${s}.contacts (
  contact_id bigint PRIMARY KEY, patient_id bigint NOT NULL, contact_key varchar(16), kind varchar(8),
  contact_use varchar(8), value varchar(120));
CREATE TABLE ${s}.gp_registrations (
  registration_id bigint PRIMARY KEY, patient_id bigint NOT NULL, registration_key varchar(16),
  practice_ods varchar(10), registered_from date);
CREATE TABLE ${s}.allergies (
  allergy_id bigint PRIMARY KEY, patient_id bigint NOT NULL, substance_code varchar(20), substance_name varchar(120),
  reaction varchar(120), severity varchar(10), recorded_on date);
CREATE TABLE ${s}.medications (
  medication_id bigint PRIMARY KEY, patient_id bigint NOT NULL, drug_code varchar(20), drug_name varchar(160),
  dosage varchar(160), started_on date, status varchar(10));
CREATE TABLE ${s}.prescriptions (
  prescription_id bigint PRIMARY KEY, patient_id bigint NOT NULL, medication_id bigint, drug_code varchar(20),
  drug_name varchar(160), quantity integer, prescriber_ods varchar(10), issued_at timestamp, status varchar(10));
CREATE TABLE ${s}.audit_log (
  audit_id bigint PRIMARY KEY, patient_id bigint NOT NULL, user_id varchar(40), action varchar(40), occurred_at timestamp);
${Object.keys(CHILD_TABLES)
  .map((t) => `CREATE INDEX ${t}_patient ON ${s}.${t} (patient_id);`)
  .join('\n')}
`;
}
