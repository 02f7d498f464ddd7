import type Database from 'better-sqlite3';
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../worker/start-module-worker.js';

/** WAL pages after which the serving connection checkpoints itself (when no checkpointer thread runs). */
export const AUTOCHECKPOINT_PAGES = 10_000;
/** How often the checkpointer thread copies the WAL back. */
const CHECKPOINT_INTERVAL_MS = 50;

/**
 * Moves WAL checkpoints off the serving thread. Every commit of the audit chain rewrites the same hot
 * pages; with automatic checkpoints the committing connection copies them back and fsyncs, inside a
 * request. Here a thread of its own does that (PASSIVE: readers and writers carry on), and the
 * serving connection never checkpoints. If the thread stops, automatic checkpoints come back on, so
 * the WAL cannot grow without end.
 */
export class BackgroundCheckpoints {
  /** The checkpointer thread (exposed so its loss can be tested). */
  readonly worker: Worker;
  private stopping = false;

  constructor(
    file: string,
    private readonly db: Database.Database,
    log: (message: string) => void = (m) => process.stderr.write(m + '\n'),
  ) {
    this.worker = startModuleWorker(import.meta.url, 'checkpoint-worker', {
      workerData: { file, intervalMs: CHECKPOINT_INTERVAL_MS },
    });
    this.worker.unref();
    const fallBack = (why: string) => {
      if (this.stopping) return;
      this.stopping = true;
      this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
      log(
        `openspine: WAL checkpointer thread stopped (${why}); checkpointing on the serving connection again`,
      );
    };
    this.worker.on('error', (err) => fallBack(err.message));
    this.worker.on('exit', (code) => fallBack(`exit ${code}`));
    this.db.pragma('wal_autocheckpoint = 0');
  }

  /** Stops the thread (after its current checkpoint) and hands checkpoints back to the connection. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.ref(); // the wait for it to finish must keep the process alive
    this.worker.postMessage('stop');
    await exited;
    this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  }
}
