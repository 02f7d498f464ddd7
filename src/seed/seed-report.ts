import cliProgress from 'cli-progress';
import type { AuditRecord } from '../audit/types.js';

export interface SeedOptions {
  patients: number;
  seed: number;
  /** First generator index (to add more patients to a store seeded before). */
  startIndex?: number;
  progress?: boolean;
  batchSize?: number;
  /**
   * The embedded store's database file, when the repository is that store: the seeder then loads it
   * through its own connection (src/store/bulk.ts) with generation on a worker thread.
   */
  sqliteFile?: string;
}

export interface SeedResult {
  created: number;
  skipped: number;
  seconds: number;
  firstNhsNumber?: string;
}

/** The audit entry of one seeded batch: which generator range of which seed went in. */
export function seedAudit(seed: number, from: number, to: number): AuditRecord {
  return {
    time: new Date().toISOString(),
    requestId: 'seed',
    userId: 'openspine-seed',
    role: 'system',
    org: 'OPENSPINE',
    patient: null,
    action: 'pds.seed',
    outcome: 'success',
    detail: { seed, from, to },
  };
}

/** A progress bar on stderr (or nothing), with the elapsed time the seeder reports. */
export function seedProgress(opts: SeedOptions): { update(done: number): void; finish(): number } {
  const bar = opts.progress
    ? new cliProgress.SingleBar(
        {
          format:
            'seeding [{bar}] {percentage}% | {value}/{total} patients | {rate}/s | ETA {eta}s',
          stream: process.stderr,
        },
        cliProgress.Presets.shades_classic,
      )
    : null;
  bar?.start(opts.patients, 0, { rate: 0 });
  const began = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - began) / 1e9;
  return {
    update: (done) => bar?.update(done, { rate: Math.round(done / Math.max(seconds(), 1e-3)) }),
    finish: () => {
      bar?.stop();
      return seconds();
    },
  };
}
