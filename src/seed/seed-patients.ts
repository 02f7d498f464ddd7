import type { Repository } from '../store/repository.js';
import type { ResourceWrite } from '../store/resource-store.js';
import { indexPatient, PATIENT, RELATED_PERSON } from '../services/pds/index.js';
import { bulkSeedPatients } from './bulk-seed.js';
import { createPatientGenerator } from './patient-generator.js';
import { seedAudit, seedProgress, type SeedOptions, type SeedResult } from './seed-report.js';

export type { SeedOptions, SeedResult } from './seed-report.js';

/**
 * Loads synthetic patients in large atomic batches (each batch one transaction with one audit
 * entry). Numbers already present (a re-run with the same seed) are skipped, never overwritten.
 * Given the embedded store's file (opts.sqliteFile), it takes the faster bulk path (bulk-seed.ts).
 */
export async function seedPatients(repo: Repository, opts: SeedOptions): Promise<SeedResult> {
  if (opts.sqliteFile && repo.kind === 'sqlite')
    return bulkSeedPatients(repo, opts.sqliteFile, opts);
  const generator = createPatientGenerator(opts.seed);
  const batchSize = opts.batchSize ?? 5000;
  const start = opts.startIndex ?? 0;
  const progress = seedProgress(opts);
  let created = 0,
    skipped = 0;
  let firstNhsNumber: string | undefined;
  // one seed never repeats a number, so only a store that already holds patients needs the check
  const mayOverlap = (await repo.count(PATIENT)) > 0;
  for (let from = start; from < start + opts.patients; from += batchSize) {
    const to = Math.min(from + batchSize, start + opts.patients);
    const generated = [];
    for (let i = from; i < to; i++) generated.push(generator.generate(i));
    const existing = mayOverlap
      ? new Set(
          (
            await repo.readMany(
              PATIENT,
              generated.map((g) => g.patient.id!),
            )
          ).map((s) => s.id),
        )
      : new Set<string>();
    const writes: ResourceWrite[] = [];
    for (const { patient, relatedPersons } of generated) {
      if (existing.has(patient.id!)) {
        skipped++;
        continue;
      }
      writes.push({
        type: PATIENT,
        id: patient.id!,
        expectedVersion: 0,
        resource: patient,
        index: indexPatient(patient),
      });
      for (const rp of relatedPersons)
        writes.push({
          type: RELATED_PERSON,
          id: rp.id!,
          expectedVersion: 0,
          resource: rp,
          index: [{ param: 'patient', value: patient.id! }],
        });
    }
    firstNhsNumber ??= generated[0]?.patient.id;
    if (writes.length)
      await repo.commit({ resources: writes, audit: [seedAudit(opts.seed, from, to)] });
    created += writes.filter((w) => w.type === PATIENT).length;
    progress.update(to - start);
  }
  return { created, skipped, seconds: progress.finish(), firstNhsNumber };
}
