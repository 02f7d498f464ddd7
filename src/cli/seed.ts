import type { Config, Flags } from '../config.js';
import { seedPatients } from '../seed/seed-patients.js';
import { openRepository, sqliteFileOf } from '../store/open.js';
import { wholeNumber } from './args.js';

export async function seedCommand(config: Config, flags: Flags): Promise<number> {
  const patients = wholeNumber(flags.patients, '--patients');
  const seed = wholeNumber(flags.seed, '--seed', 1);
  const repo = await openRepository(config);
  try {
    // the embedded store is bulk-loaded through its file; PostgreSQL goes through the repository
    const result = await seedPatients(repo, {
      patients,
      seed,
      progress: true,
      sqliteFile: sqliteFileOf(config),
    });
    console.log(
      `seeded ${result.created} patients (${result.skipped} already present) in ${result.seconds.toFixed(2)} s: ${Math.round(result.created / Math.max(result.seconds, 1e-3))} patients/s`,
    );
    return 0;
  } finally {
    await repo.close();
  }
}
