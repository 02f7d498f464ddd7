import pg from 'pg';
import { VersionConflictError, type AuditRecord, type Repository, type ResourceWrite } from '../../store/types.js';
import { PATIENT } from '../pds/patient-model.js';
import { cleanPatient, groupChildren, patientProblem, type Children } from './legacy-clean.js';
import { legacyAudit, patientWrites } from './legacy-fhir.js';
import { LegacyReader, type ChildRow } from './legacy-read.js';
import { CHILD_TABLES, checkSchemaName, type ChildTable } from './legacy-schema.js';
import {
  MIGRATION_CHECKPOINT, addTally, checkpointWrite, quarantineWrite, readCheckpoint, readOrCreateRun, redactUrl, runIdFor,
  type MigrationCheckpoint,
} from './migration-state.js';

export interface MigrateOptions {
  sourceUrl: string;
  schema: string;
  /** Parallel patient streams on a first run (a resumed run keeps the first run's number). */
  workers?: number;
  batchSize?: number;
  /** Called after every committed batch with the legacy rows done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

export interface MigrateResult {
  run: string;
  rows: number;
  migrated: number;
  quarantined: number;
  seconds: number;
  /** Rows that were already done before this process started (a resume). */
  resumedFrom: number;
}

const CHILDREN = Object.keys(CHILD_TABLES) as ChildTable[];
const emptyChildren = (): Children => Object.fromEntries(CHILDREN.map((t) => [t, []])) as unknown as Children;
const rowsIn = (cp: MigrationCheckpoint) => Object.values(cp.tally).reduce((n, t) => n + t.migrated + t.quarantined, 0);

/** The migration's own audit entry for one committed batch. */
function batchAudit(run: string, stream: string, from: string, to: string, rows: number): AuditRecord {
  return {
    time: new Date().toISOString(), requestId: `migration-${run}`, userId: 'openspine-migrate', role: 'system', org: 'OPENSPINE',
    patient: null, action: 'migration.batch', outcome: 'success', type: 'security', detail: { stream, from, to, rows },
  };
}

/**
 * Streams the legacy store into the target: n patient partitions in parallel, then the orphaned
 * rows table by table. Each batch (resources, quarantined rows, legacy audit, checkpoint) is one
 * commit, so the run can be killed at any moment and started again.
 */
export async function migrateLegacy(repo: Repository, opts: MigrateOptions): Promise<MigrateResult> {
  const schema = checkSchemaName(opts.schema);
  const runId = runIdFor(opts.sourceUrl, schema);
  const began = process.hrtime.bigint();
  const plan = await readOrCreateRun(repo, runId, `${redactUrl(opts.sourceUrl)}#${schema}`, Math.max(1, opts.workers ?? 4));
  const pool = new pg.Pool({ connectionString: opts.sourceUrl, max: plan.partitions + 2 });
  const batchSize = opts.batchSize ?? 1000;
  try {
    const reader = new LegacyReader(pool as unknown as pg.ClientBase, schema);
    const total = Object.values(await reader.counts()).reduce((a, b) => a + b, 0);
    const streams = [...Array.from({ length: plan.partitions }, (_, k) => `p${k}of${plan.partitions}`), ...CHILDREN.map((t) => `orphans.${t}`)];
    const checkpoints = new Map<string, MigrationCheckpoint>();
    for (const s of streams) checkpoints.set(s, await readCheckpoint(repo, runId, s));
    const resumedFrom = [...checkpoints.values()].reduce((n, c) => n + rowsIn(c), 0);
    let done = resumedFrom;
    const report = (rows: number) => { done += rows; opts.onProgress?.(done, total); };
    opts.onProgress?.(done, total);

    const partitionWork = Array.from({ length: plan.partitions }, (_, k) => async () => {
      const stream = `p${k}of${plan.partitions}`;
      let cp = checkpoints.get(stream)!;
      while (!cp.done) {
        const rows = await reader.patients(plan.partitions, k, cp.after, batchSize);
        cp = await commitPatientBatch(repo, reader, runId, cp, rows, batchSize, report);
      }
    });
    await Promise.all(partitionWork.map((w) => w()));
    // orphans last: a row whose patient exists is the patient stream's, whatever happens meanwhile
    await Promise.all(CHILDREN.map(async (table) => {
      const stream = `orphans.${table}`;
      let cp = checkpoints.get(stream)!;
      while (!cp.done) {
        const rows = await reader.orphans(table, cp.after, batchSize * 5);
        cp = await commitOrphanBatch(repo, runId, cp, table, rows, batchSize * 5, report);
      }
    }));
    const final = await Promise.all(streams.map((s) => readCheckpoint(repo, runId, s)));
    let migrated = 0, quarantined = 0;
    for (const checkpoint of final) for (const t of Object.values(checkpoint.tally)) { migrated += t.migrated; quarantined += t.quarantined; }
    return { run: runId, rows: total, migrated, quarantined, seconds: Number(process.hrtime.bigint() - began) / 1e9, resumedFrom };
  } finally {
    await pool.end();
  }
}

async function commitPatientBatch(
  repo: Repository, reader: LegacyReader, runId: string, cp: MigrationCheckpoint, rows: Awaited<ReturnType<LegacyReader['patients']>>,
  batchSize: number, report: (rows: number) => void,
): Promise<MigrationCheckpoint> {
  const next: MigrationCheckpoint = structuredClone(cp);
  if (rows.length === 0) {
    next.done = true;
    next.batches = cp.batches + 1;
    await commitOrStop(repo, [checkpointWrite(next)], []);
    return next;
  }
  const keys = rows.map((r) => r.key);
  const fetched = await Promise.all(CHILDREN.map((t) => reader.children(t, keys)));
  const byPatient = groupChildren(CHILDREN, Object.fromEntries(CHILDREN.map((t, i) => [t, fetched[i]])) as Record<ChildTable, ChildRow[]>);
  const refused = new Map<string, string>(); // patient key -> reason found at commit time
  for (;;) {
    const writes: ResourceWrite[] = [];
    const audit: AuditRecord[] = [];
    next.tally = structuredClone(cp.tally);
    let count = 0;
    for (const row of rows) {
      const children = byPatient.get(row.key) ?? emptyChildren();
      const childCount = CHILDREN.reduce((n, t) => n + children[t].length, 0);
      count += 1 + childCount;
      const problem = refused.get(row.key) ?? patientProblem(row);
      if (problem) {
        writes.push(quarantineWrite(runId, 'patients', row as never, row.key, problem));
        addTally(next.tally, 'patients', 0, 1);
        for (const t of CHILDREN) {
          for (const c of children[t]) writes.push(quarantineWrite(runId, t, c, row.key, `patient ${row.key} quarantined: ${problem}`));
          addTally(next.tally, t, 0, children[t].length);
        }
        continue;
      }
      const clean = cleanPatient(row, children);
      writes.push(...patientWrites(clean));
      audit.push(...legacyAudit(clean, runId));
      addTally(next.tally, 'patients', 1, 0);
      for (const t of CHILDREN) addTally(next.tally, t, children[t].length, 0);
    }
    next.after = keys[keys.length - 1];
    next.batches = cp.batches + 1;
    next.done = rows.length < batchSize;
    audit.push(batchAudit(runId, next.stream, keys[0], next.after, count));
    try {
      // in key order, so each B-tree is walked forwards once rather than hopped about
      writes.sort((a, b) => (a.type === b.type ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.type < b.type ? -1 : 1));
      await repo.commit({ resources: [...writes, checkpointWrite(next)], audit });
      report(count);
      return next;
    } catch (err) {
      // a Patient already in the target (seeded, or written by PDS since) is not ours to overwrite
      if (err instanceof VersionConflictError && err.type === PATIENT && !refused.has(keyOfNhs(rows, err.id))) {
        refused.set(keyOfNhs(rows, err.id), `NHS Number ${err.id} already present in the target store`);
        continue;
      }
      if (err instanceof VersionConflictError && err.type === MIGRATION_CHECKPOINT) {
        throw new Error(`checkpoint ${err.id} moved under this run: another migrate process is working on the same source`);
      }
      throw err;
    }
  }
}

function keyOfNhs(rows: { key: string; nhs_number: string | null }[], nhs: string): string {
  return rows.find((r) => (r.nhs_number ?? '').replace(/\s/g, '') === nhs)?.key ?? '';
}

/** Writes a batch; a checkpoint that already exists means another process is on the same stream. */
async function commitOrStop(repo: Repository, resources: ResourceWrite[], audit: AuditRecord[]): Promise<void> {
  try {
    await repo.commit({ resources, audit });
  } catch (err) {
    if (err instanceof VersionConflictError && err.type === MIGRATION_CHECKPOINT) {
      throw new Error(`checkpoint ${err.id} moved under this run: another migrate process is working on the same source`);
    }
    throw err;
  }
}

async function commitOrphanBatch(
  repo: Repository, runId: string, cp: MigrationCheckpoint, table: ChildTable, rows: ChildRow[], limit: number, report: (rows: number) => void,
): Promise<MigrationCheckpoint> {
  const next: MigrationCheckpoint = structuredClone(cp);
  const writes = rows.map((r) => quarantineWrite(runId, table, r, r.patient_id, `orphaned row: legacy patient ${r.patient_id} does not exist`));
  addTally(next.tally, table, 0, rows.length);
  if (rows.length) next.after = rows[rows.length - 1].key;
  next.done = rows.length < limit;
  next.batches += 1;
  await commitOrStop(repo, [...writes, checkpointWrite(next)], rows.length ? [batchAudit(runId, next.stream, rows[0].key, next.after, rows.length)] : []);
  report(rows.length);
  return next;
}
