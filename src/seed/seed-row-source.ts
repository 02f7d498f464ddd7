import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../worker/start-module-worker.js';
import { createPatientGenerator, type NumberBlockName } from './patient-generator.js';
import { buildSeedRows, type SeedRows } from './seed-rows.js';

/** A worker running seed-worker. */
function startWorker(seed: number, numbers: NumberBlockName): Worker {
  return startModuleWorker(import.meta.url, 'seed-worker', { workerData: { seed, numbers } });
}

interface Waiter {
  resolve: (rows: SeedRows) => void;
  reject: (err: Error) => void;
}

/**
 * The rows of patients [start, end) in batches of `batchSize` (or of the size it gives batch 0, 1, ...),
 * in order. With workers, batches are dealt out to them in turn and built ahead (one per worker in the
 * works, one more waiting) while the caller inserts the current one; with none, each is built when
 * asked. Either way a batch is the same pure function of (seed, range), so the output does not
 * depend on the number of workers.
 */
export class SeedRowSource {
  private readonly workers: Worker[] = [];
  private readonly waiting: Waiter[][] = [];
  private readonly requested: Promise<SeedRows>[] = [];
  private readonly generator: ReturnType<typeof createPatientGenerator>;
  private nextFrom: number;
  private dealt = 0;
  private batches = 0;
  private failure: Error | null = null;

  constructor(
    seed: number,
    start: number,
    private readonly end: number,
    private readonly batchSize: number | ((batch: number) => number),
    workers: number,
    numbers: NumberBlockName = 'test',
  ) {
    // validates the seed on this thread, with a clear error
    this.generator = createPatientGenerator(seed, numbers);
    this.nextFrom = start;
    for (let w = 0; w < workers; w++) {
      const worker = startWorker(seed, numbers);
      const queue: Waiter[] = [];
      worker.on('message', (rows: SeedRows) => queue.shift()?.resolve(rows));
      worker.on('error', (err) => this.fail(err));
      worker.on('exit', (code) => this.fail(new Error(`seed worker exited with code ${code}`)));
      this.workers.push(worker);
      this.waiting.push(queue);
    }
    while (workers > 0 && this.requested.length < workers + 1 && this.request());
  }

  /** The next batch, or null after the last. */
  async next(): Promise<SeedRows | null> {
    if (!this.workers.length) {
      if (this.nextFrom >= this.end) return null;
      const from = this.nextFrom;
      this.nextFrom = Math.min(from + this.sizeOf(this.batches++), this.end);
      return buildSeedRows(this.generator, from, this.nextFrom);
    }
    const rows = this.requested.shift();
    if (!rows) return null;
    this.request();
    return rows;
  }

  private sizeOf(batch: number): number {
    return Math.max(1, typeof this.batchSize === 'number' ? this.batchSize : this.batchSize(batch));
  }

  private request(): boolean {
    if (this.nextFrom >= this.end) return false;
    const from = this.nextFrom;
    this.nextFrom = Math.min(from + this.sizeOf(this.batches++), this.end);
    const w = this.dealt++ % this.workers.length;
    const rows = new Promise<SeedRows>((resolve, reject) => {
      if (this.failure) reject(this.failure);
      else this.waiting[w].push({ resolve, reject });
    });
    rows.catch(() => undefined); // reported when next() hands it out, not as an unhandled rejection
    this.requested.push(rows);
    this.workers[w].postMessage({ from, to: this.nextFrom });
    return true;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const queue of this.waiting)
      for (const waiter of queue.splice(0)) waiter.reject(this.failure);
  }

  async close(): Promise<void> {
    for (const worker of this.workers) worker.removeAllListeners('exit');
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
