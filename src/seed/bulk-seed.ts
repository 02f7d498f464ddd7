import { availableParallelism } from 'node:os';
import { PATIENT } from '../services/pds/index.js';
import { openBulkLoader } from '../store/bulk.js';
import type { Repository } from '../store/repository.js';
import { SeedRowSource } from './seed-row-source.js';
import { withoutPatients } from './seed-rows.js';
import { seedAudit, seedProgress, type SeedOptions, type SeedResult } from './seed-report.js';

/**
 * One worker per core left over by this thread, at most two: generation costs about what the inserts
 * cost, so on two cores one worker keeps both busy, and a third thread would only share them.
 */
const defaultWorkers = (): number => Math.min(2, Math.max(1, availableParallelism() - 1));

/**
 * Default batch sizes: large batches because each commit rewrites every search_index page it
 * touched (with random names and postcodes, nearly all of them), but small first ones so the
 * loader starts after a short wait for the worker rather than after a whole large batch.
 */
const BATCH_SIZES = [5_000, 10_000, 20_000, 40_000];
const LARGE_BATCH = 40_000;
const defaultBatchSize = (batch: number): number => BATCH_SIZES[batch] ?? LARGE_BATCH;

/**
 * seedPatients() for the embedded store: a worker thread builds each batch's rows (documents, index
 * entries, JSON) while this thread inserts the previous batch through a bulk-load connection. Same
 * rows, same audit entry per batch and the same skipping of numbers already present as the
 * repository path; batches are larger because each commit rewrites every index page it touched.
 */
export async function bulkSeedPatients(
  repo: Repository,
  file: string,
  opts: SeedOptions & { workers?: number },
): Promise<SeedResult> {
  const start = opts.startIndex ?? 0;
  const batchSize = opts.batchSize ?? defaultBatchSize;
  const mayOverlap = (await repo.count(PATIENT)) > 0; // one seed never repeats a number
  const loader = openBulkLoader({ sqliteFile: file }, { backgroundCheckpoints: true });
  if (!loader) throw new Error('bulk seeding needs the embedded store');
  const progress = seedProgress(opts);
  let source: SeedRowSource | undefined;
  let created = 0,
    skipped = 0,
    seconds = 0;
  let firstNhsNumber: string | undefined;
  try {
    source = new SeedRowSource(
      opts.seed,
      start,
      start + opts.patients,
      batchSize,
      opts.workers ?? defaultWorkers(),
    );
    for (let rows = await source.next(); rows; rows = await source.next()) {
      firstNhsNumber ??= rows.patientIds[0];
      const existing = mayOverlap ? loader.existing(PATIENT, rows.patientIds) : new Set<string>();
      const fresh = existing.size ? withoutPatients(rows, existing) : rows;
      if (fresh.ids.length) loader.load(fresh, [seedAudit(opts.seed, rows.from, rows.to)]);
      created += rows.patientIds.length - existing.size;
      skipped += existing.size;
      progress.update(rows.to - start);
    }
  } finally {
    seconds = progress.finish();
    await loader.close();
    await source?.close();
  }
  return { created, skipped, seconds, firstNhsNumber };
}
