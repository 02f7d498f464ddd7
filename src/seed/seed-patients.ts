import type { Repository } from '../store/repository.js';
import type { ResourceWrite } from '../store/resource-store.js';
import { indexPatient, PATIENT, RELATED_PERSON } from '../services/pds/index.js';
import { bulkSeedPatients } from './bulk-seed.js';
import { createPatientGenerator, type GeneratedPatient } from './patient-generator.js';
import { seedAudit, seedProgress, type SeedOptions, type SeedResult } from './seed-report.js';
import { resumePoint } from './seed-resume.js';

export type { SeedOptions, SeedResult } from './seed-report.js';

/**
 * Loads synthetic patients in large atomic batches (each batch one transaction with one audit
 * entry). A re-run of an interrupted seed resumes where it stopped (seed-resume.ts); numbers already
 * present are skipped, never overwritten.
 * Given a bulk target (opts.bulk), it takes the faster bulk path (bulk-seed.ts).
 */
export async function seedPatients(repo: Repository, opts: SeedOptions): Promise<SeedResult> {
  if (opts.bulk) return bulkSeedPatients(repo, opts.bulk, opts);
  const numbers = opts.numbers ?? 'test';
  const generator = createPatientGenerator(opts.seed, numbers);
  const batchSize = opts.batchSize ?? 5000;
  const start = opts.startIndex ?? 0;
  const end = start + opts.patients;
  // one seed never repeats a number, so only a store that already holds patients needs the check
  const mayOverlap = (await repo.count(PATIENT)) > 0;
  const resumedAt = mayOverlap ? await resumePoint(repo, generator, start, end) : start;
  const progress = seedProgress(opts, resumedAt - start);
  let created = 0,
    skipped = resumedAt - start;
  const firstNhsNumber = opts.patients ? generator.generate(start).patient.id : undefined;
  for (let from = resumedAt; from < end; from += batchSize) {
    const to = Math.min(from + batchSize, end);
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
    for (const g of generated) {
      if (existing.has(g.patient.id!)) {
        skipped++;
        continue;
      }
      writes.push(...patientWrites(g));
    }
    if (writes.length)
      await repo.commit({ resources: writes, audit: [seedAudit(opts.seed, from, to, numbers)] });
    created += writes.filter((w) => w.type === PATIENT).length;
    progress.update(to - start);
  }
  return { created, skipped, seconds: progress.finish(), firstNhsNumber, resumedAt };
}

/** A generated patient and its related people as the new-resource writes a seed commits. */
export function patientWrites({ patient, relatedPersons }: GeneratedPatient): ResourceWrite[] {
  const id = patient.id!;
  return [
    { type: PATIENT, id, expectedVersion: 0, resource: patient, index: indexPatient(patient) },
    ...relatedPersons.map((rp) => ({
      type: RELATED_PERSON,
      id: rp.id!,
      expectedVersion: 0,
      resource: rp,
      index: [{ param: 'patient', value: id }],
    })),
  ];
}
