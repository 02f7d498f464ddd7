import pg from 'pg';
import type { Patient } from 'fhir/r4.js';
import { createPatientGenerator } from '../../seed/patient-generator.js';
import { GP_PRACTICE_CODES } from '../../seed/generator-pools.js';
import {
  ACCENTED,
  DirtRng,
  UNREADABLE_DATES,
  dirtOf,
  freeTextDate,
  legacyBytes,
} from './legacy-dirt.js';
import { LEGACY_TABLES, checkSchemaName, legacyDdl, type LegacyTable } from './legacy-schema.js';

/** Legacy clinical code lists (the old system's own codes, carried into FHIR under a legacy code system). */
const SUBSTANCES = [
  ['SUB001', 'Penicillin'],
  ['SUB002', 'Peanut'],
  ['SUB003', 'Latex'],
  ['SUB004', 'Aspirin'],
  ['SUB005', 'Codeine'],
  ['SUB006', 'Shellfish'],
  ['SUB007', 'Ibuprofen'],
] as const;
const REACTIONS = ['Rash', 'Anaphylaxis', 'Wheeze', 'Nausea', 'Urticaria', 'Swelling'];
const DRUGS = [
  ['DRG010', 'Amoxicillin 500mg capsules', 'One capsule three times a day'],
  ['DRG011', 'Metformin 500mg tablets', 'One tablet twice a day'],
  ['DRG012', 'Atorvastatin 20mg tablets', 'One tablet at night'],
  ['DRG013', 'Salbutamol 100micrograms inhaler', 'Two puffs when required'],
  ['DRG014', 'Ramipril 5mg capsules', 'One capsule daily'],
  ['DRG015', 'Levothyroxine 50microgram tablets', 'One tablet in the morning'],
  ['DRG016', 'Omeprazole 20mg capsules', 'One capsule daily'],
] as const;
const ACTIONS = ['VIEW_DEMOGRAPHICS', 'UPDATE_ADDRESS', 'PRINT_RECORD', 'VIEW_MEDICATION'];

type Row = unknown[];
type Rows = Record<LegacyTable, Row[]>;

/** Column lists and their PostgreSQL array types, in insert order. */
const COLUMNS: Record<LegacyTable, [string, string][]> = {
  patients: [
    ['patient_id', 'bigint'],
    ['nhs_number', 'text'],
    ['sex', 'text'],
    ['date_of_birth', 'text'],
    ['date_of_death', 'timestamp'],
    ['death_status', 'text'],
    ['restricted', 'text'],
    ['pharmacy_ods', 'text'],
    ['superseded_by', 'text'],
    ['last_modified', 'timestamp'],
  ],
  patient_names: [
    ['name_id', 'bigint'],
    ['patient_id', 'bigint'],
    ['name_key', 'text'],
    ['name_use', 'text'],
    ['title', 'text'],
    ['forenames', 'bytea'],
    ['surname', 'bytea'],
    ['valid_from', 'date'],
    ['valid_to', 'date'],
  ],
  addresses: [
    ['address_id', 'bigint'],
    ['patient_id', 'bigint'],
    ['address_key', 'text'],
    ['line1', 'bytea'],
    ['line2', 'bytea'],
    ['line3', 'bytea'],
    ['line4', 'bytea'],
    ['line5', 'bytea'],
    ['postcode', 'text'],
    ['valid_from', 'date'],
    ['valid_to', 'date'],
  ],
  contacts: [
    ['contact_id', 'bigint'],
    ['patient_id', 'bigint'],
    ['contact_key', 'text'],
    ['kind', 'text'],
    ['contact_use', 'text'],
    ['value', 'text'],
  ],
  gp_registrations: [
    ['registration_id', 'bigint'],
    ['patient_id', 'bigint'],
    ['registration_key', 'text'],
    ['practice_ods', 'text'],
    ['registered_from', 'date'],
  ],
  allergies: [
    ['allergy_id', 'bigint'],
    ['patient_id', 'bigint'],
    ['substance_code', 'text'],
    ['substance_name', 'text'],
    ['reaction', 'text'],
    ['severity', 'text'],
    ['recorded_on', 'date'],
  ],
  medications: [
    ['medication_id', 'bigint'],
    ['patient_id', 'bigint'],
    ['drug_code', 'text'],
    ['drug_name', 'text'],
    ['dosage', 'text'],
    ['started_on', 'date'],
    ['status', 'text'],
  ],
  prescriptions: [
    ['prescription_id', 'bigint'],
    ['patient_id', 'bigint'],
    ['medication_id', 'bigint'],
    ['drug_code', 'text'],
    ['drug_name', 'text'],
    ['quantity', 'integer'],
    ['prescriber_ods', 'text'],
    ['issued_at', 'timestamp'],
    ['status', 'text'],
  ],
  audit_log: [
    ['audit_id', 'bigint'],
    ['patient_id', 'bigint'],
    ['user_id', 'text'],
    ['action', 'text'],
    ['occurred_at', 'timestamp'],
  ],
};

const accent = (s: string) =>
  s
    .split(/(\s+|-)/)
    .map((w) => ACCENTED[w] ?? w)
    .join('');
const sexOf = (g: string | undefined) =>
  g === 'male' ? 'M' : g === 'female' ? 'F' : g === 'other' ? 'I' : 'U';
const day = (from: string, r: DirtRng) =>
  new Date(Date.parse(from) + r.int(3650) * 86_400_000).toISOString().slice(0, 10);
const clampDay = (d: string) => (d > '2025-12-31' ? '2025-12-31' : d);

/** Per-table id counters: surrogate keys are dense, as sequences made them. */
class Keys {
  private next: Record<string, number> = {};
  take(table: string): number {
    return (this.next[table] = (this.next[table] ?? 0) + 1);
  }
}

function emptyRows(): Rows {
  return Object.fromEntries(LEGACY_TABLES.map((t) => [t, []])) as unknown as Rows;
}

/** The legacy rows of one patient, under surrogate key `pid`; `dup` marks the second copy of a duplicate. */
function patientRows(
  out: Rows,
  keys: Keys,
  seed: number,
  index: number,
  p: Patient,
  pid: number,
  previousNhs: string | null,
  withClinical: boolean,
): void {
  const dirt = dirtOf(seed, index);
  const r = new DirtRng(seed, index, 0xc11);
  let nhs = p.id!;
  if (dirt.invalidNumber) nhs = nhs.slice(0, 9) + String((Number(nhs[9]) + 1) % 10);
  if (dirt.spacedNumber) nhs = `${nhs.slice(0, 3)} ${nhs.slice(3, 6)} ${nhs.slice(6)}`;
  const dob = dirt.unreadableBirthDate
    ? r.pick(UNREADABLE_DATES)
    : freeTextDate(p.birthDate!, dirt.dateFormat);
  const death = p.deceasedDateTime ? p.deceasedDateTime.slice(0, 19).replace('T', ' ') : null;
  const pharmacy =
    p.extension?.find((e) => e.url.endsWith('NominatedPharmacy'))?.valueReference?.identifier
      ?.value ?? null;
  const restricted = p.meta?.security?.[0]?.code === 'R' ? 'Y' : 'N';
  const superseded = dirt.superseded && previousNhs ? previousNhs : null;
  out.patients.push([
    pid,
    nhs,
    sexOf(p.gender),
    dob,
    death,
    death ? '2' : null,
    restricted,
    pharmacy,
    superseded,
    `2025-${String(1 + r.int(12)).padStart(2, '0')}-01 09:00:00`,
  ]);
  for (const n of p.name ?? []) {
    out.patient_names.push([
      keys.take('patient_names'),
      pid,
      n.id,
      n.use,
      n.prefix?.[0] ?? null,
      legacyBytes(accent((n.given ?? []).join(' ')), dirt.mojibake),
      legacyBytes(accent(n.family ?? ''), dirt.mojibake),
      n.period?.start ?? null,
      n.period?.end ?? null,
    ]);
  }
  for (const a of p.address ?? []) {
    const lines = [...(a.line ?? []), null, null, null, null, null]
      .slice(0, 5)
      .map((l) => (l === null ? null : legacyBytes(l, false)));
    out.addresses.push([
      keys.take('addresses'),
      pid,
      a.id,
      ...lines,
      a.postalCode,
      a.period?.start ?? null,
      a.period?.end ?? null,
    ]);
  }
  for (const t of p.telecom ?? [])
    out.contacts.push([keys.take('contacts'), pid, t.id, t.system, t.use, t.value]);
  for (const gp of p.generalPractitioner ?? [])
    out.gp_registrations.push([
      keys.take('gp_registrations'),
      pid,
      gp.id,
      gp.identifier?.value,
      gp.identifier?.period?.start ?? null,
    ]);
  if (!withClinical) return;
  const from = p.birthDate! < '2000-01-01' ? '2000-01-01' : p.birthDate!;
  const orphanPid = () => 1_000_000_000 + index;
  for (let k = 0, n = r.chance(0.35) ? 1 + r.int(2) : 0; k < n; k++) {
    const [code, name] = r.pick(SUBSTANCES);
    out.allergies.push([
      keys.take('allergies'),
      pid,
      code,
      name,
      r.pick(REACTIONS),
      r.pick(['mild', 'moderate', 'severe']),
      clampDay(day(from, r)),
    ]);
  }
  for (let k = 0, n = r.int(3); k < n; k++) {
    const [code, name, dosage] = r.pick(DRUGS);
    const medId = keys.take('medications');
    out.medications.push([
      medId,
      pid,
      code,
      name,
      dosage,
      clampDay(day(from, r)),
      r.chance(0.8) ? 'active' : 'stopped',
    ]);
    for (let j = 0, m = r.int(3); j < m; j++) {
      out.prescriptions.push([
        keys.take('prescriptions'),
        pid,
        medId,
        code,
        name,
        28 * (1 + r.int(3)),
        r.pick(GP_PRACTICE_CODES),
        `${clampDay(day(from, r))} ${String(8 + r.int(10)).padStart(2, '0')}:${String(r.int(60)).padStart(2, '0')}:00`,
        r.pick(['issued', 'dispensed', 'cancelled']),
      ]);
    }
  }
  for (let k = 0, n = 1 + r.int(2); k < n; k++) {
    out.audit_log.push([
      keys.take('audit_log'),
      pid,
      `U${100000 + r.int(900000)}`,
      r.pick(ACTIONS),
      `${clampDay(day('2015-01-01', r))} ${String(8 + r.int(10)).padStart(2, '0')}:00:00`,
    ]);
  }
  // rows whose patient was deleted long ago by a purge that forgot the clinical tables
  for (let k = 0; k < dirt.orphans; k++) {
    if (k % 2 === 0)
      out.allergies.push([
        keys.take('allergies'),
        orphanPid(),
        'SUB001',
        'Penicillin',
        'Rash',
        'mild',
        '2010-05-01',
      ]);
    else
      out.medications.push([
        keys.take('medications'),
        orphanPid(),
        'DRG012',
        'Atorvastatin 20mg tablets',
        'One tablet at night',
        '2011-03-02',
        'active',
      ]);
  }
}

async function insertRows(client: pg.ClientBase, schema: string, rows: Rows): Promise<void> {
  for (const table of LEGACY_TABLES) {
    const list = rows[table];
    if (list.length === 0) continue;
    const cols = COLUMNS[table];
    const arrays = cols.map((_, i) => list.map((row) => row[i]));
    const unnest = cols.map(([, type], i) => `$${i + 1}::${type}[]`).join(', ');
    await client.query(
      `INSERT INTO ${schema}.${table} (${cols.map(([c]) => c).join(', ')}) SELECT * FROM unnest(${unnest})`,
      arrays,
    );
  }
}

export interface LegacyGenerateOptions {
  databaseUrl: string;
  schema: string;
  /** Patients to draw from the synthetic generator (duplicates come on top). */
  rows: number;
  seed?: number;
  /** Drop an existing schema of that name first. */
  replace?: boolean;
  onProgress?: (done: number) => void;
}

/** Creates the legacy schema and fills it; returns the row count of every table. */
export async function generateLegacy(
  opts: LegacyGenerateOptions,
): Promise<Record<LegacyTable, number>> {
  const schema = checkSchemaName(opts.schema);
  const seed = opts.seed ?? 1;
  const generator = createPatientGenerator(seed);
  const client = new pg.Client({ connectionString: opts.databaseUrl });
  await client.connect();
  try {
    if (opts.replace) await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await client.query(legacyDdl(schema));
    const keys = new Keys();
    const duplicates: number[] = [];
    const BATCH = 2000;
    let previousNhs: string | null = null;
    for (let from = 0; from < opts.rows; from += BATCH) {
      const out = emptyRows();
      for (let i = from; i < Math.min(from + BATCH, opts.rows); i++) {
        const p = generator.generate(i).patient;
        patientRows(out, keys, seed, i, p, keys.take('patients'), previousNhs, true);
        if (dirtOf(seed, i).duplicated) duplicates.push(i);
        previousNhs = p.id!;
      }
      await client.query('BEGIN');
      await insertRows(client, schema, out);
      await client.query('COMMIT');
      opts.onProgress?.(Math.min(from + BATCH, opts.rows));
    }
    // the second copies, keyed later as a re-registration would have been
    const out = emptyRows();
    for (const i of duplicates)
      patientRows(
        out,
        keys,
        seed,
        i,
        generator.generate(i).patient,
        keys.take('patients'),
        null,
        false,
      );
    await insertRows(client, schema, out);
    await client.query(`ANALYZE ${LEGACY_TABLES.map((t) => `${schema}.${t}`).join(', ')}`);
    return await legacyCounts(client, schema);
  } finally {
    await client.end();
  }
}

export async function legacyCounts(
  client: pg.ClientBase,
  schema: string,
): Promise<Record<LegacyTable, number>> {
  const s = checkSchemaName(schema);
  const sql = LEGACY_TABLES.map(
    (t) => `SELECT '${t}' AS t, count(*)::int AS n FROM ${s}.${t}`,
  ).join(' UNION ALL ');
  const { rows } = await client.query<{ t: LegacyTable; n: number }>(sql);
  return Object.fromEntries(rows.map((r) => [r.t, r.n])) as Record<LegacyTable, number>;
}
