import pg from 'pg';
import { openBulkLoader } from '../../store/bulk.js';
import { VersionConflictError } from '../../store/errors.js';
import type { AuditRecord } from '../../audit/types.js';
import type { Repository } from '../../store/repository.js';
import type { ResourceWrite } from '../../store/resource-store.js';
import { runBulkPartition } from './bulk-partition.js';
import { LegacyReader, type ChildRow } from './legacy-read.js';
import { checkSchemaName, type ChildTable } from './legacy-schema.js';
import { MappingWorkerClient } from './mapping-worker-client.js';
import {
  MIGRATION_CHECKPOINT,
  addTally,
  checkpointWrite,
  quarantineWrite,
  readCheckpoint,
  readOrCreateRun,
  redactUrl,
  runIdFor,
  type MigrationCheckpoint,
} from './migration-state.js';
import {
  CHILDREN,
  addTallies,
  mapPatientBatch,
  nhsKeysOf,
  patientToRefuse,
  readPatientBatch,
  type PatientRead,
} from './patient-batch.js';

export interface MigrateOptions {
  sourceUrl: string;
  schema: string;
  /** Parallel patient streams on a first run (a resumed run keeps the first run's number). */
  workers?: number;
  batchSize?: number;
  /**
   * The embedded store's database file, when the target is the embedded store: batches then go
   * through a bulk-load connection (multi-row inserts, the same rows and audit chain as commit()).
   */
  sqliteFile?: string;
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

const rowsIn = (cp: MigrationCheckpoint) =>
  Object.values(cp.tally).reduce((n, t) => n + t.migrated + t.quarantined, 0);

/**
 * Log pages (4 KiB each) the embedded store's write-ahead log may grow to between checkpoints during
 * a migration: each batch touches index pages all over the B-trees, and copying them into the
 * database once per 64 MiB rather than once per batch saved about 6% of the writing thread's CPU.
 */
const WAL_PAGES = 16_384;

/** The migration's own audit entry for one committed batch. */
function batchAudit(
  run: string,
  stream: string,
  from: string,
  to: string,
  rows: number,
): AuditRecord {
  return {
    time: new Date().toISOString(),
    requestId: `migration-${run}`,
    userId: 'openspine-migrate',
    role: 'system',
    org: 'OPENSPINE',
    patient: null,
    action: 'migration.batch',
    outcome: 'success',
    type: 'security',
    detail: { stream, from, to, rows },
  };
}

/** Writes one batch of new resources with its audit entries, atomically. */
type CommitBatch = (resources: ResourceWrite[], audit: AuditRecord[]) => Promise<void>;

/**
 * Streams the legacy store into the target: n patient partitions in parallel, then the orphaned
 * rows table by table. Each batch (resources, quarantined rows, legacy audit, checkpoint) is one
 * commit, so the run can be killed at any moment and started again.
 */
export async function migrateLegacy(
  repo: Repository,
  opts: MigrateOptions,
): Promise<MigrateResult> {
  const schema = checkSchemaName(opts.schema);
  const runId = runIdFor(opts.sourceUrl, schema);
  const began = process.hrtime.bigint();
  const plan = await readOrCreateRun(
    repo,
    runId,
    `${redactUrl(opts.sourceUrl)}#${schema}`,
    Math.max(1, opts.workers ?? 4),
  );
  const loader = openBulkLoader({ sqliteFile: opts.sqliteFile }, { walPages: WAL_PAGES });
  const pool = new pg.Pool({ connectionString: opts.sourceUrl, max: plan.partitions + 2 });
  // into the embedded store, a worker thread reads and maps while this thread writes
  const mapper = loader
    ? new MappingWorkerClient({
        sourceUrl: opts.sourceUrl,
        schema,
        runId,
        connections: plan.partitions + 1,
      })
    : null;
  const batchSize = opts.batchSize ?? 1000;
  const commit: CommitBatch = loader
    ? async (resources, audit) => loader.commitNew(resources, audit)
    : async (resources, audit) => {
        await repo.commit({ resources, audit });
      };
  try {
    const reader = new LegacyReader(pool as unknown as pg.ClientBase, schema);
    const total = Object.values(await reader.counts()).reduce((a, b) => a + b, 0);
    const streams = [
      ...Array.from({ length: plan.partitions }, (_, k) => `p${k}of${plan.partitions}`),
      ...CHILDREN.map((t) => `orphans.${t}`),
    ];
    const checkpoints = new Map<string, MigrationCheckpoint>();
    for (const s of streams) checkpoints.set(s, await readCheckpoint(repo, runId, s));
    const resumedFrom = [...checkpoints.values()].reduce((n, c) => n + rowsIn(c), 0);
    let done = resumedFrom;
    const report = (rows: number) => {
      done += rows;
      opts.onProgress?.(done, total);
    };
    opts.onProgress?.(done, total);

    const partitionWork = Array.from({ length: plan.partitions }, (_, k) => async () => {
      const stream = `p${k}of${plan.partitions}`;
      let cp = checkpoints.get(stream)!;
      if (loader && mapper) {
        const audit = (s: string, from: string, to: string, rows: number) =>
          batchAudit(runId, s, from, to, rows);
        return runBulkPartition(
          {
            loader,
            mapper,
            runId,
            parts: plan.partitions,
            part: k,
            batchSize,
            batchAudit: audit,
            report,
          },
          cp,
        );
      }
      while (!cp.done) {
        const read = await readPatientBatch(reader, plan.partitions, k, cp.after, batchSize);
        cp = await commitPatientBatch(commit, runId, cp, read, batchSize, report);
      }
    });
    await Promise.all(partitionWork.map((w) => w()));
    // orphans last: a row whose patient exists is the patient stream's, whatever happens meanwhile
    await Promise.all(
      CHILDREN.map(async (table) => {
        const stream = `orphans.${table}`;
        let cp = checkpoints.get(stream)!;
        while (!cp.done) {
          const rows = await reader.orphans(table, cp.after, batchSize * 5);
          cp = await commitOrphanBatch(commit, runId, cp, table, rows, batchSize * 5, report);
        }
      }),
    );
    await loader?.checkpoint();
    const final = await Promise.all(streams.map((s) => readCheckpoint(repo, runId, s)));
    let migrated = 0,
      quarantined = 0;
    for (const checkpoint of final)
      for (const t of Object.values(checkpoint.tally)) {
        migrated += t.migrated;
        quarantined += t.quarantined;
      }
    return {
      run: runId,
      rows: total,
      migrated,
      quarantined,
      seconds: Number(process.hrtime.bigint() - began) / 1e9,
      resumedFrom,
    };
  } finally {
    await mapper?.close();
    await loader?.close();
    await pool.end();
  }
}

async function commitPatientBatch(
  commit: CommitBatch,
  runId: string,
  cp: MigrationCheckpoint,
  read: PatientRead,
  batchSize: number,
  report: (rows: number) => void,
): Promise<MigrationCheckpoint> {
  const { rows } = read;
  if (rows.length === 0) {
    const next: MigrationCheckpoint = { ...cp, done: true, batches: cp.batches + 1 };
    await commitOrStop(commit, [checkpointWrite(next)], []);
    return next;
  }
  const refused = new Map<string, string>(); // patient key -> reason found at commit time
  for (;;) {
    const batch = mapPatientBatch(runId, read, refused);
    const next: MigrationCheckpoint = {
      ...cp,
      tally: addTallies(cp.tally, batch.tally),
      after: rows[rows.length - 1].key,
      batches: cp.batches + 1,
      done: rows.length < batchSize,
    };
    const audit = [
      ...batch.audit,
      batchAudit(runId, next.stream, rows[0].key, next.after, batch.count),
    ];
    try {
      await commit([...batch.writes, checkpointWrite(next)], audit);
      report(batch.count);
      return next;
    } catch (err) {
      const refuse = patientToRefuse(err, nhsKeysOf(rows), refused);
      if (refuse) {
        refused.set(refuse.key, refuse.reason);
        continue;
      }
      if (err instanceof VersionConflictError && err.type === MIGRATION_CHECKPOINT) {
        throw new Error(
          `checkpoint ${err.id} moved under this run: another migrate process is working on the same source`,
        );
      }
      throw err;
    }
  }
}

/** Writes a batch; a checkpoint that already exists means another process is on the same stream. */
async function commitOrStop(
  commit: CommitBatch,
  resources: ResourceWrite[],
  audit: AuditRecord[],
): Promise<void> {
  try {
    await commit(resources, audit);
  } catch (err) {
    if (err instanceof VersionConflictError && err.type === MIGRATION_CHECKPOINT) {
      throw new Error(
        `checkpoint ${err.id} moved under this run: another migrate process is working on the same source`,
      );
    }
    throw err;
  }
}

async function commitOrphanBatch(
  commit: CommitBatch,
  runId: string,
  cp: MigrationCheckpoint,
  table: ChildTable,
  rows: ChildRow[],
  limit: number,
  report: (rows: number) => void,
): Promise<MigrationCheckpoint> {
  const next: MigrationCheckpoint = structuredClone(cp);
  const writes = rows.map((r) =>
    quarantineWrite(
      runId,
      table,
      r,
      r.patient_id,
      `orphaned row: legacy patient ${r.patient_id} does not exist`,
    ),
  );
  addTally(next.tally, table, 0, rows.length);
  if (rows.length) next.after = rows[rows.length - 1].key;
  next.done = rows.length < limit;
  next.batches += 1;
  await commitOrStop(
    commit,
    [...writes, checkpointWrite(next)],
    rows.length ? [batchAudit(runId, next.stream, rows[0].key, next.after, rows.length)] : [],
  );
  report(rows.length);
  return next;
}
