import cliProgress from 'cli-progress';
import type { AuditRecord } from '../audit/types.js';
import type { BulkTarget } from '../store/bulk.js';
import type { NumberBlockName } from './patient-generator.js';

export interface SeedOptions {
  patients: number;
  seed: number;
  /** First generator index (to add more patients to a store seeded before). */
  startIndex?: number;
  /** A progress bar on a terminal; anything else gets a log line every few seconds. */
  progress?: boolean;
  /** Where progress lines go when the output is not a terminal (stderr by default). */
  log?: (line: string) => void;
  batchSize?: number;
  /** The NHS Number block (patient-generator.ts); 'test' (the 999 range) unless given. */
  numbers?: NumberBlockName;
  /**
   * The store to bulk-load (src/store/bulk.ts bulkTargetOf): the seeder then loads through its
   * own connection (multi-row INSERTs into SQLite, COPY into PostgreSQL) with generation on
   * worker threads, instead of through the repository's commit().
   */
  bulk?: BulkTarget;
}

export interface SeedResult {
  created: number;
  skipped: number;
  seconds: number;
  firstNhsNumber?: string;
  /** The first generator index this run wrote or checked: later than startIndex when resuming. */
  resumedAt?: number;
}

/** The audit entry of one seeded batch: which generator range of which seed went in. */
export function seedAudit(
  seed: number,
  from: number,
  to: number,
  numbers: NumberBlockName = 'test',
): AuditRecord {
  return {
    time: new Date().toISOString(),
    requestId: 'seed',
    userId: 'openspine-seed',
    role: 'system',
    org: 'OPENSPINE',
    patient: null,
    action: 'pds.seed',
    outcome: 'success',
    detail: { seed, from, to, numbers },
  };
}

const LOG_EVERY_MS = 5_000;

const duration = (seconds: number): string => {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600),
    m = Math.floor((s % 3600) / 60);
  return h
    ? `${h}h${String(m).padStart(2, '0')}m`
    : m
      ? `${m}m${String(s % 60).padStart(2, '0')}s`
      : `${s}s`;
};

/**
 * Progress of a seed of `total` patients, of which `already` were found present when it resumed:
 * a bar on a terminal, otherwise (a log file, a CI job, a pipe) a line every few seconds with the
 * rate and the time left, so a long seed is never silent. finish() gives the elapsed seconds.
 */
export function seedProgress(
  opts: SeedOptions,
  already = 0,
): { update(done: number): void; note(line: string): void; finish(): number } {
  const total = opts.patients;
  const began = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - began) / 1e9;
  const rate = (done: number) => (done - already) / Math.max(seconds(), 1e-3);
  if (opts.progress && process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: 'seeding [{bar}] {percentage}% | {value}/{total} patients | {rate}/s | ETA {eta}s',
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, already, { rate: 0 });
    return {
      update: (done) => bar.update(done, { rate: Math.round(rate(done)) }),
      note: (line) => process.stderr.write(`\n${line}\n`),
      finish: () => {
        bar.stop();
        return seconds();
      },
    };
  }
  const log =
    opts.log ?? (opts.progress ? (line: string) => process.stderr.write(line + '\n') : null);
  let lastLog = Date.now();
  const line = (done: number) => {
    const perSecond = rate(done);
    const left = perSecond > 0 ? duration((total - done) / perSecond) : '?';
    const pct = ((100 * done) / Math.max(total, 1)).toFixed(1);
    const count = (n: number) => Math.round(n).toLocaleString('en-GB');
    return (
      `seed: ${count(done)} of ${count(total)} patients (${pct}%), ` +
      `${count(perSecond)} patients/s, ${duration(seconds())} elapsed, ETA ${left}`
    );
  };
  if (log && already)
    log(`seed: resuming, ${already.toLocaleString('en-GB')} patients already present`);
  return {
    update: (done) => {
      if (!log || Date.now() - lastLog < LOG_EVERY_MS) return;
      lastLog = Date.now();
      log(line(done));
    },
    note: (text) => log?.(text),
    finish: () => {
      const elapsed = seconds();
      if (log) log(line(total).replace(/, ETA .*$/, ', done'));
      return elapsed;
    },
  };
}
