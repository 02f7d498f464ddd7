import type { Repository } from '../../store/repository.js';
import { resourceType, type ResourceWrite } from '../../store/resource-store.js';
import type { LegacyTable } from './legacy-schema.js';

/**
 * What the migration keeps in the target store: its plan, one checkpoint per stream of work, and
 * the quarantine. Each checkpoint is written in the same commit as the batch it covers, with a
 * version check, so a killed run resumes exactly after its last committed batch and two runs can
 * never both write one batch.
 */
export const MIGRATION_RUN = resourceType<MigrationRun>('MigrationRun');
export const MIGRATION_CHECKPOINT = resourceType<MigrationCheckpoint>('MigrationCheckpoint');
export const MIGRATION_QUARANTINE = resourceType<QuarantinedRow>('MigrationQuarantine');

export interface MigrationRun {
  resourceType: typeof MIGRATION_RUN;
  id: string;
  /** Fixed by the first run: patient partitions (patient_id mod n), so resumes keep the same slices. */
  partitions: number;
  source: string;
  started: string;
}

export type TableTally = Partial<Record<LegacyTable, { migrated: number; quarantined: number }>>;

export interface MigrationCheckpoint {
  resourceType: typeof MIGRATION_CHECKPOINT;
  id: string;
  run: string;
  /** 'patients' (a partition) or 'orphans' (one child table's rows without a patient). */
  stream: string;
  /** The last legacy key committed; work continues after it. */
  after: string;
  done: boolean;
  batches: number;
  tally: TableTally;
}

export interface QuarantinedRow {
  resourceType: typeof MIGRATION_QUARANTINE;
  id: string;
  run: string;
  table: LegacyTable;
  key: string;
  /** The legacy patient key the row belongs to. */
  patientKey: string;
  reason: string;
  /** The row as read (binary columns as hex), so nothing is lost. */
  row: Record<string, unknown>;
}

/** A run id from the source: one legacy store, one run, however many resumes. */
export function runIdFor(databaseUrl: string, schema: string): string {
  const db = new URL(databaseUrl).pathname.replace(/^\//, '') || 'postgres';
  return `${db}.${schema}`;
}

/** One checkpoint per committed batch, numbered: later batches sort after earlier ones. */
export const checkpointId = (run: string, stream: string, batch: number) =>
  `${run}.${stream}.${String(batch).padStart(9, '0')}`;
const streamKey = (run: string, stream: string) => `${run}.${stream}`;

/** The latest checkpoint of a stream (its last committed batch), or the start. */
export async function readCheckpoint(
  repo: Repository,
  run: string,
  stream: string,
): Promise<MigrationCheckpoint> {
  const ids = await repo.search({
    type: MIGRATION_CHECKPOINT,
    criteria: [{ any: [{ param: 'stream', op: 'eq', value: streamKey(run, stream) }] }],
    limit: 100_000_000,
  });
  const last = ids.length ? await repo.read(MIGRATION_CHECKPOINT, ids[ids.length - 1]) : null;
  if (last) return last.resource;
  return {
    resourceType: MIGRATION_CHECKPOINT,
    id: checkpointId(run, stream, 0),
    run,
    stream,
    after: '0',
    done: false,
    batches: 0,
    tally: {},
  };
}

/**
 * The checkpoint of the batch after `cp`, to commit with that batch. It is a new resource: a second
 * process that read the same checkpoint and tries to commit the same batch is refused.
 */
export function checkpointWrite(next: MigrationCheckpoint): ResourceWrite {
  const resource = { ...next, id: checkpointId(next.run, next.stream, next.batches) };
  return {
    type: MIGRATION_CHECKPOINT,
    id: resource.id,
    expectedVersion: 0,
    resource,
    index: [
      { param: 'run', value: next.run },
      { param: 'stream', value: streamKey(next.run, next.stream) },
    ],
  };
}

export function addTally(
  tally: TableTally,
  table: LegacyTable,
  migrated: number,
  quarantined: number,
): void {
  const t = (tally[table] ??= { migrated: 0, quarantined: 0 });
  t.migrated += migrated;
  t.quarantined += quarantined;
}

/** Binary columns become hex so the quarantined row is plain JSON. */
function jsonRow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row))
    out[k] = Buffer.isBuffer(v) ? { hex: v.toString('hex') } : v;
  return out;
}

export function quarantineWrite(
  run: string,
  table: LegacyTable,
  row: Record<string, unknown> & { key: string },
  patientKey: string,
  reason: string,
): ResourceWrite {
  const resource: QuarantinedRow = {
    resourceType: MIGRATION_QUARANTINE,
    id: `${run}.${table}.${row.key}`,
    run,
    table,
    key: row.key,
    patientKey,
    reason,
    row: jsonRow(row),
  };
  return {
    type: MIGRATION_QUARANTINE,
    id: resource.id,
    expectedVersion: 0,
    resource,
    index: [
      { param: 'run', value: run },
      { param: 'table', value: `${run}.${table}` },
    ],
  };
}

export async function readOrCreateRun(
  repo: Repository,
  id: string,
  source: string,
  partitions: number,
): Promise<MigrationRun> {
  const stored = await repo.read(MIGRATION_RUN, id);
  if (stored) return stored.resource;
  const run: MigrationRun = {
    resourceType: MIGRATION_RUN,
    id,
    partitions,
    source,
    started: new Date().toISOString(),
  };
  try {
    await repo.commit({
      resources: [{ type: MIGRATION_RUN, id, expectedVersion: 0, resource: run, index: [] }],
    });
    return run;
  } catch {
    // another process created it first: use its plan
    const again = await repo.read(MIGRATION_RUN, id);
    if (!again) throw new Error(`could not record migration run ${id}`);
    return again.resource;
  }
}

/** The source URL without any password, for records and logs. */
export function redactUrl(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
