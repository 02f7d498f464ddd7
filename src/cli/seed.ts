import type { Config, Flags } from '../config.js';
import { PATIENTS_PER_BLOCK, type NumberBlockName } from '../seed/patient-generator.js';
import { seedPatients } from '../seed/seed-patients.js';
import { bulkTargetOf, openRepository } from '../store/open.js';
import { wholeNumber } from './args.js';

export async function seedCommand(config: Config, flags: Flags): Promise<number> {
  const patients = wholeNumber(flags.patients, '--patients');
  const seed = wholeNumber(flags.seed, '--seed', 1);
  const numbers = numberBlock(flags.numbers, patients);
  if (patients > PATIENTS_PER_BLOCK[numbers])
    throw new Error(
      `--patients ${patients} is more than the ${numbers} NHS Number block holds (${PATIENTS_PER_BLOCK[numbers]})`,
    );
  const repo = await openRepository(config);
  try {
    // bulk-loaded beside the repository: multi-row INSERTs into SQLite, COPY into PostgreSQL
    const result = await seedPatients(repo, {
      patients,
      seed,
      numbers,
      progress: true,
      bulk: bulkTargetOf(config),
    });
    console.log(
      `seeded ${result.created} patients (${result.skipped} already present) in ${result.seconds.toFixed(2)} s: ${Math.round(result.created / Math.max(result.seconds, 1e-3))} patients/s`,
    );
    return 0;
  } finally {
    await repo.close();
  }
}

/**
 * The NHS Number block a seed draws from: as asked, or the demo's and the tests' 999 test range
 * when the seed fits in it and the national synthetic block when it does not. The same command
 * always picks the same block, so re-running an interrupted seed resumes it.
 */
function numberBlock(flag: unknown, patients: number): NumberBlockName {
  if (flag === undefined) return patients <= PATIENTS_PER_BLOCK.test ? 'test' : 'national';
  if (flag === 'test' || flag === 'national') return flag;
  throw new Error(`--numbers must be 'test' or 'national'`);
}
