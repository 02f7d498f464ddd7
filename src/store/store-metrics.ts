/**
 * What the store tells the operations metrics (src/observability/metrics.ts) without knowing of
 * them: each committed WriteBatch (observeCommits), and figures read at scrape time (storeStats).
 */

/** Told of each batch that committed; refused batches (version conflicts, replays) are not told. */
export interface CommitObserver {
  /**
   * `durationSeconds`: the whole commit() as its caller waits for it (a group commit's queueing
   * included); `batchSize`: its resources + outbox messages + audit records.
   */
  committed(durationSeconds: number, batchSize: number): void;
}

/** The engine's figures at one moment (cheap reads: one query at most). */
export interface StoreStats {
  /** Bytes the store takes: the SQLite file and its WAL, or PostgreSQL's pg_database_size. */
  sizeBytes: number;
  /** Batches waiting for a group commit (always 0 on SQLite, which commits each at once). */
  commitQueue: number;
  /** PostgreSQL's connection pool (null on SQLite). */
  pool: { total: number; idle: number; waiting: number } | null;
}

/** The observers of one store; `committed` is a no-op while there are none. */
export class CommitObservers {
  private readonly observers = new Set<CommitObserver>();

  get active(): boolean {
    return this.observers.size > 0;
  }

  add(observer: CommitObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  committed(
    startedAt: number,
    batch: { resources?: unknown[]; messages?: unknown[]; audit?: unknown[] },
  ): void {
    const seconds = (performance.now() - startedAt) / 1000;
    const size =
      (batch.resources?.length ?? 0) + (batch.messages?.length ?? 0) + (batch.audit?.length ?? 0);
    for (const o of this.observers) o.committed(seconds, size);
  }
}
