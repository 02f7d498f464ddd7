import type { AuditRecord } from './types.js';
import type { ResourceStore } from '../store/resource-store.js';

/**
 * Group commit for the audit entries of reads. Requests that arrive in the same turn of the
 * event loop have their entries written in one transaction; each request is answered only after
 * its entry has committed, so no read is ever served unaudited, but the store pays one commit per
 * burst rather than one per read. (Writes put their audit entry in their own transaction instead.)
 */
export class AuditWriter {
  private queue: { records: AuditRecord[]; resolve: () => void; reject: (err: unknown) => void }[] =
    [];
  private scheduled = false;

  constructor(private readonly repo: ResourceStore) {}

  append(...records: AuditRecord[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ records, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const waiting = this.queue;
    this.queue = [];
    this.scheduled = false;
    try {
      await this.repo.commit({ audit: waiting.flatMap((w) => w.records) });
      for (const w of waiting) w.resolve();
    } catch (err) {
      for (const w of waiting) w.reject(err);
    }
  }
}
