import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import type { Repository } from '../../store/repository.js';
import { PATIENT } from '../pds/index.js';
import {
  Digest,
  addAllergyTuple,
  addAuditTuple,
  addLegacyTuples,
  addMedicationTuple,
  addPatientTuples,
  addPrescriptionTuple,
  newDigests,
} from './field-digest.js';
import { cleanPatient, groupChildren, patientProblem, type Children } from './legacy-clean.js';
import {
  ALLERGY,
  MEDICATION_REQUEST,
  MEDICATION_STATEMENT,
  allergyId,
  medicationId,
  patientWrites,
  prescriptionId,
} from './legacy-fhir.js';
import { LegacyReader, type ChildRow, type PatientRow } from './legacy-read.js';
import {
  CHILD_TABLES,
  LEGACY_TABLES,
  checkSchemaName,
  type ChildTable,
  type LegacyTable,
} from './legacy-schema.js';
import { MIGRATION_QUARANTINE, runIdFor } from './migration-state.js';

export interface TableReport {
  table: LegacyTable;
  legacyRows: number;
  /** Rows the mapping rules migrate / quarantine (computed afresh from the legacy side). */
  expectedMigrated: number;
  expectedQuarantined: number;
  /** What the target holds: migrated rows found in resources, and quarantine entries. */
  targetMigrated: number;
  targetQuarantined: number;
  legacyDigest: string;
  targetDigest: string;
  ok: boolean;
}

export interface VerifyReport {
  run: string;
  tables: TableReport[];
  /** Current resources of each migrated type in the target against what the legacy side implies. */
  resourceCounts: { type: string; expected: number; target: number; ok: boolean }[];
  sample: { checked: number; differences: string[] };
  ok: boolean;
  seconds: number;
}

const CHILDREN = Object.keys(CHILD_TABLES) as ChildTable[];

/**
 * Reconciles the target with the legacy source: row counts per table, a digest of every migrated
 * field on both sides, and a random sample of patients re-read from both and compared resource by
 * resource. Any difference fails the report.
 */
export async function verifyMigration(
  repo: Repository,
  opts: { sourceUrl: string; schema: string; sample: number; batchSize?: number },
): Promise<VerifyReport> {
  const began = Date.now();
  const schema = checkSchemaName(opts.schema);
  const run = runIdFor(opts.sourceUrl, schema);
  const pool = new pg.Pool({ connectionString: opts.sourceUrl, max: 4 });
  const reader = new LegacyReader(pool as unknown as pg.ClientBase, schema);
  const legacy = newDigests(LEGACY_TABLES);
  const target = newDigests(LEGACY_TABLES);
  const expected = Object.fromEntries(
    LEGACY_TABLES.map((t) => [t, { migrated: 0, quarantined: 0 }]),
  ) as Record<LegacyTable, { migrated: number; quarantined: number }>;
  const expectedTypes: Record<string, number> = {
    [PATIENT]: 0,
    [ALLERGY]: 0,
    [MEDICATION_STATEMENT]: 0,
    [MEDICATION_REQUEST]: 0,
  };
  const batch = opts.batchSize ?? 2000;
  try {
    const counts = await reader.counts();
    for (let after = '0'; ;) {
      const rows = await reader.patients(1, 0, after, batch);
      if (rows.length === 0) break;
      after = rows[rows.length - 1].key;
      const keys = rows.map((r) => r.key);
      const fetched = await Promise.all(CHILDREN.map((t) => reader.children(t, keys)));
      const by = groupChildren(
        CHILDREN,
        Object.fromEntries(CHILDREN.map((t, i) => [t, fetched[i]])) as Record<
          ChildTable,
          ChildRow[]
        >,
      );
      const ids: Record<string, string[]> = {
        [PATIENT]: [],
        [ALLERGY]: [],
        [MEDICATION_STATEMENT]: [],
        [MEDICATION_REQUEST]: [],
      };
      for (const row of rows) {
        const children =
          by.get(row.key) ??
          (Object.fromEntries(CHILDREN.map((t) => [t, []])) as unknown as Children);
        if (patientProblem(row)) {
          expected.patients.quarantined++;
          for (const t of CHILDREN) expected[t].quarantined += children[t].length;
          continue;
        }
        const clean = cleanPatient(row, children);
        addLegacyTuples(legacy, clean);
        expected.patients.migrated++;
        for (const t of CHILDREN) expected[t].migrated += children[t].length;
        ids[PATIENT].push(clean.nhs);
        ids[ALLERGY].push(...clean.allergies.map((a) => allergyId(a.key)));
        ids[MEDICATION_STATEMENT].push(...clean.medications.map((m) => medicationId(m.key)));
        ids[MEDICATION_REQUEST].push(...clean.prescriptions.map((p) => prescriptionId(p.key)));
      }
      for (const [type, list] of Object.entries(ids)) expectedTypes[type] += list.length;
      for (const s of await repo.readMany(PATIENT, ids[PATIENT]))
        addPatientTuples(target, s.resource);
      for (const s of await repo.readMany(ALLERGY, ids[ALLERGY]))
        addAllergyTuple(target, s.resource);
      for (const s of await repo.readMany(MEDICATION_STATEMENT, ids[MEDICATION_STATEMENT]))
        addMedicationTuple(target, s.resource);
      for (const s of await repo.readMany(MEDICATION_REQUEST, ids[MEDICATION_REQUEST]))
        addPrescriptionTuple(target, s.resource);
    }
    for (const t of CHILDREN)
      for (let after = '0'; ;) {
        const orphans = await reader.orphans(t, after, 10_000);
        expected[t].quarantined += orphans.length;
        if (orphans.length < 10_000) break;
        after = orphans[orphans.length - 1].key;
      }
    // the legacy audit rows live in the target's audit chain, tagged with this run
    for (let afterSeq = 0; ;) {
      const entries = await repo.audit.readAudit(afterSeq, 5000);
      if (entries.length === 0) break;
      afterSeq = entries[entries.length - 1].seq;
      for (const e of entries)
        if (e.record.requestId === `migration-${run}` && e.record.action.startsWith('legacy.'))
          addAuditTuple(target, e);
    }
    const tables: TableReport[] = [];
    for (const t of LEGACY_TABLES) {
      const quarantined = await repo.search({
        type: MIGRATION_QUARANTINE,
        criteria: [{ any: [{ param: 'table', op: 'eq', value: `${run}.${t}` }] }],
        limit: expected[t].quarantined + 1,
      });
      const report: TableReport = {
        table: t,
        legacyRows: counts[t],
        expectedMigrated: expected[t].migrated,
        expectedQuarantined: expected[t].quarantined,
        targetMigrated: target[t].count,
        targetQuarantined: quarantined.length,
        legacyDigest: legacy[t].hex(),
        targetDigest: target[t].hex(),
        ok: false,
      };
      report.ok =
        report.legacyRows === report.expectedMigrated + report.expectedQuarantined &&
        report.targetMigrated === report.expectedMigrated &&
        report.targetQuarantined === report.expectedQuarantined &&
        report.legacyDigest === report.targetDigest;
      tables.push(report);
    }
    const resourceCounts = await Promise.all(
      Object.entries(expectedTypes).map(async ([type, n]) => {
        const have = await repo.count(type);
        return { type, expected: n, target: have, ok: have === n };
      }),
    );
    const sample = await sampleCompare(repo, reader, run, opts.sample);
    const ok =
      tables.every((t) => t.ok) &&
      resourceCounts.every((c) => c.ok) &&
      sample.differences.length === 0;
    return { run, tables, resourceCounts, sample, ok, seconds: (Date.now() - began) / 1000 };
  } finally {
    await pool.end();
  }
}

const withoutStoreMeta = (r: Record<string, any>) => {
  const { versionId: _v, lastUpdated: _l, ...meta } = r.meta ?? {};
  const copy = { ...r, meta };
  if (Object.keys(meta).length === 0) delete (copy as Record<string, unknown>).meta;
  return copy;
};

/** Re-reads random patients from both sides and compares what the mapping says with what is stored. */
async function sampleCompare(
  repo: Repository,
  reader: LegacyReader,
  run: string,
  n: number,
): Promise<VerifyReport['sample']> {
  const keys = await reader.samplePatientKeys(n);
  const rows: PatientRow[] = await reader.patientsByKey(keys);
  const fetched = await Promise.all(CHILDREN.map((t) => reader.children(t, keys)));
  const by = groupChildren(
    CHILDREN,
    Object.fromEntries(CHILDREN.map((t, i) => [t, fetched[i]])) as Record<ChildTable, ChildRow[]>,
  );
  const differences: string[] = [];
  for (const row of rows) {
    const children =
      by.get(row.key) ?? (Object.fromEntries(CHILDREN.map((t) => [t, []])) as unknown as Children);
    const problem = patientProblem(row);
    if (problem) {
      const q = await repo.read(MIGRATION_QUARANTINE, `${run}.patients.${row.key}`);
      if (!q)
        differences.push(
          `legacy patient ${row.key}: should be quarantined (${problem}) but is not`,
        );
      else if (q.resource.reason !== problem)
        differences.push(
          `legacy patient ${row.key}: quarantined for '${q.resource.reason}', expected '${problem}'`,
        );
      continue;
    }
    for (const w of patientWrites(cleanPatient(row, children))) {
      const stored = await repo.read(w.type, w.id);
      if (!stored)
        differences.push(
          `${w.type}/${w.id} (legacy patient ${row.key}) is missing from the target`,
        );
      else if (!isDeepStrictEqual(withoutStoreMeta(stored.resource), withoutStoreMeta(w.resource)))
        differences.push(
          `${w.type}/${w.id} (legacy patient ${row.key}) differs from its legacy rows`,
        );
    }
  }
  return { checked: rows.length, differences };
}

export function formatVerifyReport(r: VerifyReport): string {
  const lines = [
    `migration verify: run ${r.run}`,
    '',
    'table              legacy   migrated (exp/target)   quarantined (exp/target)   digest legacy / target                                              result',
  ];
  for (const t of r.tables) {
    lines.push(
      `${t.table.padEnd(17)} ${String(t.legacyRows).padStart(8)}   ${`${t.expectedMigrated}/${t.targetMigrated}`.padStart(20)}   ${`${t.expectedQuarantined}/${t.targetQuarantined}`.padStart(24)}   ${t.legacyDigest.slice(0, 16)}… / ${t.targetDigest.slice(0, 16)}…   ${t.ok ? 'OK' : 'DIFFERENT'}`,
    );
  }
  lines.push('', 'target resources');
  for (const c of r.resourceCounts)
    lines.push(
      `  ${c.type.padEnd(20)} expected ${String(c.expected).padStart(8)}  target ${String(c.target).padStart(8)}  ${c.ok ? 'OK' : 'DIFFERENT'}`,
    );
  lines.push(
    '',
    `sample re-read: ${r.sample.checked} legacy patients compared, ${r.sample.differences.length} differences`,
  );
  for (const d of r.sample.differences.slice(0, 20)) lines.push(`  ${d}`);
  lines.push(
    '',
    `${r.ok ? 'PASS' : 'FAIL'}: ${r.ok ? 'target matches the legacy source' : 'differences found'} (${r.seconds.toFixed(1)} s)`,
  );
  return lines.join('\n');
}

export { Digest };
