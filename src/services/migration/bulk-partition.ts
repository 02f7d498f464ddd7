import type { BulkLoader } from '../../store/bulk.js';
import { bulkRowsOf, concatBulkRows } from '../../store/bulk-rows.js';
import { VersionConflictError } from '../../store/errors.js';
import type { AuditRecord } from '../../audit/types.js';
import type { MappedBatch, MappingWorkerClient } from './mapping-worker-client.js';
import {
  MIGRATION_CHECKPOINT,
  checkpointWrite,
  type MigrationCheckpoint,
} from './migration-state.js';
import { addTallies, patientToRefuse } from './patient-batch.js';

export interface BulkPartition {
  loader: BulkLoader;
  mapper: MappingWorkerClient;
  runId: string;
  parts: number;
  part: number;
  batchSize: number;
  batchAudit: (stream: string, from: string, to: string, rows: number) => AuditRecord;
  report: (rows: number) => void;
}

/**
 * One patient partition into the embedded store: the mapping worker reads and maps the next batch
 * while this thread writes the current one. Each batch goes in one transaction with its checkpoint
 * and audit entries, exactly as through Repository.commit(), so kills and resumes behave the same.
 */
export async function runBulkPartition(
  p: BulkPartition,
  start: MigrationCheckpoint,
): Promise<void> {
  let cp = start;
  let pending: Promise<MappedBatch> | null = cp.done
    ? null
    : p.mapper.patients(p.parts, p.part, cp.after, p.batchSize);
  while (pending) {
    let batch = await pending;
    // read ahead: the next batch starts after this one whether or not some patients are refused
    pending =
      batch.size === p.batchSize
        ? p.mapper.patients(p.parts, p.part, batch.last, p.batchSize)
        : null;
    pending?.catch(() => {}); // awaited on the next turn; a failure here must not go unhandled meanwhile
    const refused = new Map<string, string>();
    for (;;) {
      const next: MigrationCheckpoint = {
        ...cp,
        tally: addTallies(cp.tally, batch.tally),
        after: batch.size ? batch.last : cp.after,
        batches: cp.batches + 1,
        done: batch.size < p.batchSize,
      };
      const audit = batch.size
        ? [...batch.audit, p.batchAudit(next.stream, batch.first, batch.last, batch.count)]
        : [];
      try {
        await p.loader.load(concatBulkRows(batch.rows, bulkRowsOf([checkpointWrite(next)])), audit);
        p.report(batch.count);
        cp = next;
        break;
      } catch (err) {
        const refuse = patientToRefuse(err, batch.nhsKeys, refused);
        if (refuse) {
          refused.set(refuse.key, refuse.reason);
          batch = await p.mapper.patients(p.parts, p.part, cp.after, p.batchSize, [...refused]);
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
}
