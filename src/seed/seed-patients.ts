import cliProgress from 'cli-progress';
import type { Repository, ResourceWrite } from '../store/types.js';
import { indexPatient } from '../services/pds/patient-index.js';
import { PATIENT, RELATED_PERSON } from '../services/pds/patient-model.js';
import { createPatientGenerator } from './patient-generator.js';

export interface SeedOptions {
  patients: number;
  seed: number;
  /** First generator index (to add more patients to a store seeded before). */
  startIndex?: number;
  progress?: boolean;
  batchSize?: number;
}

export interface SeedResult {
  created: number;
  skipped: number;
  seconds: number;
  firstNhsNumber?: string;
}

const SEEDER = { time: '', requestId: 'seed', userId: 'openspine-seed', role: 'system', org: 'OPENSPINE', patient: null, action: 'pds.seed', outcome: 'success' };

/**
 * Loads synthetic patients in large atomic batches (each batch one transaction with one audit
 * entry). Numbers already present (a re-run with the same seed) are skipped, never overwritten.
 */
export async function seedPatients(repo: Repository, opts: SeedOptions): Promise<SeedResult> {
  const generator = createPatientGenerator(opts.seed);
  const batchSize = opts.batchSize ?? 5000;
  const start = opts.startIndex ?? 0;
  const bar = opts.progress ? new cliProgress.SingleBar({ format: 'seeding [{bar}] {percentage}% | {value}/{total} patients | {rate}/s | ETA {eta}s', stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
  bar?.start(opts.patients, 0, { rate: 0 });
  const began = process.hrtime.bigint();
  let created = 0, skipped = 0;
  let firstNhsNumber: string | undefined;
  // one seed never repeats a number, so only a store that already holds patients needs the check
  const mayOverlap = (await repo.count(PATIENT)) > 0;
  for (let from = start; from < start + opts.patients; from += batchSize) {
    const to = Math.min(from + batchSize, start + opts.patients);
    const generated = [];
    for (let i = from; i < to; i++) generated.push(generator.generate(i));
    const existing = mayOverlap ? new Set((await repo.readMany(PATIENT, generated.map((g) => g.patient.id!))).map((s) => s.id)) : new Set<string>();
    const writes: ResourceWrite[] = [];
    for (const { patient, relatedPersons } of generated) {
      if (existing.has(patient.id!)) { skipped++; continue; }
      writes.push({ type: PATIENT, id: patient.id!, expectedVersion: 0, resource: patient, index: indexPatient(patient) });
      for (const rp of relatedPersons) writes.push({ type: RELATED_PERSON, id: rp.id!, expectedVersion: 0, resource: rp, index: [{ param: 'patient', value: patient.id! }] });
    }
    firstNhsNumber ??= generated[0]?.patient.id;
    if (writes.length) {
      await repo.commit({ resources: writes, audit: [{ ...SEEDER, time: new Date().toISOString(), detail: { seed: opts.seed, from, to } }] });
    }
    created += writes.filter((w) => w.type === PATIENT).length;
    const seconds = Number(process.hrtime.bigint() - began) / 1e9;
    bar?.update(to - start, { rate: Math.round((to - start) / Math.max(seconds, 1e-3)) });
  }
  bar?.stop();
  return { created, skipped, seconds: Number(process.hrtime.bigint() - began) / 1e9, firstNhsNumber };
}
