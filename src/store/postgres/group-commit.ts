import type { PreparedBatch } from './commit-function.js';

/** A batch's outcome from openspine_commit: null when it committed, else "SQLSTATE detail". */
export type BatchOutcome = string | null;

interface Waiting {
  batch: PreparedBatch;
  resolve: (outcome: BatchOutcome) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit: batches submitted while a group is on its way to the database wait, and go together as
 * the next group (one statement, one turn on the audit head lock, one WAL flush). A caller is answered
 * only after its group has committed, so nothing is acknowledged before it is durable.
 */
export class GroupCommitter {
  private queue: Waiting[] = [];
  private inFlight = 0;

  /**
   * One group is on its way at a time while batches are small: grouping them is what saves work.
   * Heavy groups (`heavyRows` resources or more, as bulk loads send) may run `maxInFlight` at a
   * time, because there the database's time goes into the rows, which several backends write in
   * parallel (measured: a PostgreSQL migration ran 9,200 rows/s one at a time, 22,400 two at a time).
   */
  constructor(
    private readonly run: (batches: PreparedBatch[]) => Promise<BatchOutcome[]>,
    private readonly options: { maxInFlight?: number; maxGroup?: number; heavyRows?: number } = {},
  ) {}

  /** Batches waiting for a group (not yet sent to the database). */
  get waiting(): number {
    return this.queue.length;
  }

  submit(batch: PreparedBatch): Promise<BatchOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    const { maxInFlight = 2, maxGroup = 64, heavyRows = 500 } = this.options;
    while (this.queue.length > 0 && this.inFlight < maxInFlight) {
      let rows = 0,
        n = 0;
      while (n < this.queue.length && n < maxGroup && rows < heavyRows)
        rows += this.queue[n++].batch.resources.length;
      if (this.inFlight > 0 && rows < heavyRows) return;
      const group = this.queue.splice(0, n);
      this.inFlight++;
      void this.send(group).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async send(group: Waiting[]): Promise<void> {
    try {
      const outcomes = await this.run(group.map((w) => w.batch));
      group.forEach((w, k) => w.resolve(outcomes[k]));
    } catch (err) {
      // An error the server reported rolled the whole statement back. If the group was more than one
      // batch, one batch's input (say, a value the database will not store) must not fail the others:
      // each is run again on its own. Without a server error code (a lost connection) the outcome is
      // unknown, so nothing is run twice.
      if (group.length === 1 || !(err as { code?: string }).code) {
        for (const w of group) w.reject(err);
        return;
      }
      for (const w of group) {
        try {
          w.resolve((await this.run([w.batch]))[0]);
        } catch (single) {
          w.reject(single);
        }
      }
    }
  }
}
