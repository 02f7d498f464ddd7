import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../worker/start-module-worker.js';
import type { BulkRows } from '../../store/bulk-rows.js';
import type { AuditRecord } from '../../audit/types.js';
import type { TableTally } from './migration-state.js';

export interface MappingWorkerData {
  sourceUrl: string;
  schema: string;
  runId: string;
  connections: number;
}

export interface MappingRequest {
  id: number;
  parts: number;
  part: number;
  after: string;
  limit: number;
  /** [legacy patient key, reason] of patients refused at commit time. */
  refused: [string, string][];
}

/** A patient batch read, mapped and serialised by the worker, ready for BulkLoader.load(). */
export interface MappedBatch {
  id: number;
  /** Patient rows read (fewer than the limit: the partition is finished). */
  size: number;
  first: string;
  last: string;
  count: number;
  tally: TableTally;
  audit: AuditRecord[];
  nhsKeys: [string, string][];
  rows: BulkRows;
}

/**
 * A batch's rows live for a whole batch: a young generation big enough to hold them lets them die
 * there instead of being promoted and marked again (measured: about 2% of the process's CPU).
 */
const RESOURCE_LIMITS = { maxYoungGenerationSizeMb: 48 };

/** The mapping worker. */
function startWorker(data: MappingWorkerData): Worker {
  return startModuleWorker(import.meta.url, 'mapping-worker', {
    workerData: data,
    resourceLimits: RESOURCE_LIMITS,
  });
}

interface Waiter {
  resolve: (batch: MappedBatch) => void;
  reject: (err: Error) => void;
}

/** Requests patient batches from a mapping worker; any number may be in flight. */
export class MappingWorkerClient {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, Waiter>();
  private nextId = 1;
  private failure: Error | null = null;
  private readonly exited: Promise<void>;

  constructor(data: MappingWorkerData) {
    this.worker = startWorker(data);
    this.worker.on('message', (reply: MappedBatch | { id: number; error: string }) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if ('error' in reply) waiter?.reject(new Error(reply.error));
      else waiter?.resolve(reply);
    });
    this.worker.on('error', (err) => this.fail(err));
    this.exited = new Promise((resolve) =>
      this.worker.once('exit', (code) => {
        this.fail(new Error(`migration mapping worker exited with code ${code}`));
        resolve();
      }),
    );
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  patients(
    parts: number,
    part: number,
    after: string,
    limit: number,
    refused: [string, string][] = [],
  ): Promise<MappedBatch> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.postMessage({ id, parts, part, after, limit, refused } satisfies MappingRequest);
    });
  }

  /** Ends the worker's source connections and the worker. */
  async close(): Promise<void> {
    if (!this.failure) {
      this.worker.postMessage({ close: true });
      const timer = setTimeout(() => void this.worker.terminate(), 5000); // a source that will not hang up
      await this.exited;
      clearTimeout(timer);
    } else {
      await this.worker.terminate();
      await this.exited;
    }
  }
}
