import type { Repository } from '../store/repository.js';

/** About 12 ms of SQLite work per page: short enough not to stall requests on the embedded store. */
export const INDEX_PAGE_SIZE = 1000;

/** Lets requests run between pages (the embedded store works synchronously, so an await alone would not). */
const yieldToRequests = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The log has a hole below the target: an entry is missing (see AuditEvent/$verify). */
export class AuditIndexStalledError extends Error {
  constructor(readonly checkpoint: number) {
    super(
      `audit index stalled at entry ${checkpoint}: entry ${checkpoint + 1} of the log is missing`,
    );
    this.name = 'AuditIndexStalledError';
  }
}

/** How long catch-up waits for an entry below the target to become visible before giving up. */
const STALL_LIMIT_MS = 5000;

/**
 * Brings the audit index up to at least `target` (a seq known to be committed), page by page, each
 * page in its own transaction. Another indexer (background timer, another node) may be doing the
 * same: pages it indexes simply move the shared checkpoint on. Returns the checkpoint reached.
 */
export async function indexAuditUpTo(
  repo: Repository,
  target: number,
  {
    pageSize = INDEX_PAGE_SIZE,
    stallLimitMs = STALL_LIMIT_MS,
  }: { pageSize?: number; stallLimitMs?: number } = {},
): Promise<number> {
  let checkpoint = await repo.audit.auditIndexCheckpoint();
  let stalledSince: number | undefined;
  while (checkpoint < target) {
    const page = await repo.audit.indexAuditPage(pageSize);
    if (page.checkpoint > checkpoint) {
      checkpoint = page.checkpoint;
      stalledSince = undefined;
      if (checkpoint < target) await yieldToRequests();
      continue;
    }
    // committed entries are visible in seq order, so this only happens if the log lost entries
    stalledSince ??= Date.now();
    if (Date.now() - stalledSince > stallLimitMs) {
      throw new AuditIndexStalledError(checkpoint);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return checkpoint;
}

/** Indexes whatever is new, until a page comes back short; returns the number of entries indexed. */
export async function indexAuditBacklog(
  repo: Repository,
  pageSize = INDEX_PAGE_SIZE,
): Promise<number> {
  let total = 0;
  for (;;) {
    const { indexed } = await repo.audit.indexAuditPage(pageSize);
    total += indexed;
    if (indexed < pageSize) return total;
    await yieldToRequests();
  }
}

/**
 * Runs a job every `intervalMs` in the background: never two runs at once, the timer unref'd so it
 * never keeps the process alive, and stop() waits for a run in progress (so the store can close).
 */
export class PeriodicJob {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  /** When a round last finished without an error (readiness reports it). */
  lastSuccessAt: Date | undefined;
  lastFailure: { at: Date; message: string } | undefined;

  constructor(
    private readonly job: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Started and not stopped. */
  get started(): boolean {
    return !this.stopped;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.job()
        .then(
          () => {
            this.lastSuccessAt = new Date();
          },
          (err: unknown) => {
            this.lastFailure = { at: new Date(), message: String((err as Error)?.message ?? err) };
            this.onError(err);
          },
        )
        .finally(() => {
          this.running = undefined;
          this.schedule();
        });
    }, this.intervalMs);
    this.timer.unref();
  }
}
