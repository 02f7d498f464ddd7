import { availableParallelism } from 'node:os';
import { PATIENT } from '../services/pds/index.js';
import { openBulkLoader, type BulkTarget } from '../store/bulk.js';
import type { Repository } from '../store/repository.js';
import { SeedRowSource } from './seed-row-source.js';
import { withoutPatients } from './seed-rows.js';
import { createPatientGenerator } from './patient-generator.js';
import { seedAudit, seedProgress, type SeedOptions, type SeedResult } from './seed-report.js';
import { resumePoint } from './seed-resume.js';

/**
 * One worker per core left over by this thread, at most two: generation costs about what the inserts
 * cost, so on two cores one worker keeps both busy, and a third thread would only share them.
 */
const defaultWorkers = (): number => Math.min(2, Math.max(1, availableParallelism() - 1));

/**
 * Default batch sizes: large batches because each PostgreSQL commit rewrites every search_index
 * page it touched (with random names and postcodes, nearly all of them), but small first ones so
 * the loader starts after a short wait for the worker rather than after a whole large batch.
 */
const BATCH_SIZES = [5_000, 10_000, 20_000, 40_000];
const LARGE_BATCH = 40_000;
const defaultBatchSize = (batch: number): number => BATCH_SIZES[batch] ?? LARGE_BATCH;

/** The page cache the embedded store's seed connection gets (see BulkLoaderOptions.cacheMiB). */
const SEED_CACHE_MIB = 1024;
/** Write-ahead log pages (4 KiB) between checkpoints of a seed: 1 GiB. */
const SEED_WAL_PAGES = 262_144;

/**
 * seedPatients() through a bulk loader (src/store/bulk.ts): multi-row INSERTs into the embedded
 * store, COPY into PostgreSQL. A worker thread builds each batch's rows (documents, index entries,
 * JSON) while this thread loads the previous batch. Same rows, same audit entry per batch and the
 * same skipping of numbers already present as the repository path. The embedded store stages the
 * search-index rows and builds the index once, sorted, when the last batch is in
 * (src/store/sqlite/staged-index.ts): a seeded patient is searchable when the seed ends.
 */
export async function bulkSeedPatients(
  repo: Repository,
  target: string | BulkTarget,
  opts: SeedOptions & { workers?: number },
): Promise<SeedResult> {
  const start = opts.startIndex ?? 0;
  const end = start + opts.patients;
  const numbers = opts.numbers ?? 'test';
  const batchSize = opts.batchSize ?? defaultBatchSize;
  const generator = createPatientGenerator(opts.seed, numbers);
  const firstNhsNumber = opts.patients ? generator.generate(start).patient.id : undefined;
  const mayOverlap = (await repo.count(PATIENT)) > 0; // one seed never repeats a number
  const resumedAt = mayOverlap ? await resumePoint(repo, generator, start, end) : start;
  // checkpoints on the loading connection, once the log holds SEED_WAL_PAGES: a checkpointer thread
  // racing a loader that never pauses rarely catches up, and the log cannot restart until it does
  const loader = openBulkLoader(typeof target === 'string' ? { sqliteFile: target } : target, {
    walPages: SEED_WAL_PAGES,
    cacheMiB: SEED_CACHE_MIB,
    stageIndex: true,
  });
  if (!loader) throw new Error('bulk seeding needs a store to load into');
  const progress = seedProgress(opts, resumedAt - start);
  let source: SeedRowSource | undefined;
  let created = 0,
    skipped = resumedAt - start,
    seconds = 0;
  try {
    source = new SeedRowSource(
      opts.seed,
      resumedAt,
      end,
      batchSize,
      opts.workers ?? defaultWorkers(),
      numbers,
    );
    for (let rows = await source.next(); rows; rows = await source.next()) {
      const existing = mayOverlap
        ? await loader.existing(PATIENT, rows.patientIds)
        : new Set<string>();
      const fresh = existing.size ? withoutPatients(rows, existing) : rows;
      if (fresh.ids.length)
        await loader.load(fresh, [seedAudit(opts.seed, rows.from, rows.to, numbers)]);
      created += rows.patientIds.length - existing.size;
      skipped += existing.size;
      progress.update(rows.to - start);
    }
    if (loader.indexStaged) {
      progress.note('seed: building the search index...');
      const added = await loader.indexStaged();
      progress.note(`seed: search index built (${added.toLocaleString('en-GB')} rows)`);
    }
  } finally {
    seconds = progress.finish();
    await loader.close();
    await source?.close();
  }
  return { created, skipped, seconds, firstNhsNumber, resumedAt };
}
