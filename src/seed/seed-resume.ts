import { PATIENT } from '../services/pds/index.js';
import type { Repository } from '../store/repository.js';
import type { createPatientGenerator } from './patient-generator.js';

/**
 * Where an interrupted seed of generator indexes [start, end) picks up: the first index whose
 * patient is not in the store, found by binary search (about 27 reads for 80 million). Batches
 * commit whole and in index order, so what an interrupted run left is always a prefix of its
 * range. The seeder still checks each later batch for numbers already present, so a store holding
 * something other than such a prefix gets no duplicates either.
 */
export async function resumePoint(
  repo: Repository,
  generator: ReturnType<typeof createPatientGenerator>,
  start: number,
  end: number,
): Promise<number> {
  const present = async (index: number) =>
    (await repo.read(PATIENT, generator.generate(index).patient.id!)) !== null;
  if (end <= start || !(await present(start))) return start;
  let lo = start, // present
    hi = end; // absent, or the end
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (await present(mid)) lo = mid;
    else hi = mid;
  }
  return hi;
}
