import type { AuditStore } from './audit-store.js';
import type { MessageStore } from './message-store.js';
import type { ResourceStore } from './resource-store.js';
import type { CommitObserver, StoreStats } from './store-metrics.js';

/**
 * The whole store as the process opens it (src/store/open.ts): the resource store services use,
 * with the audit trail (`audit`) and the messaging tables (`messaging`) beside it, and the
 * lifecycle. Each part is its own port: ResourceStore (resource-store.ts), AuditStore
 * (audit-store.ts) and MessageStore (message-store.ts).
 */
export interface Repository extends ResourceStore {
  readonly kind: 'sqlite' | 'postgres';
  /** The audit trail: hash-chained log, its index and signed checkpoints. */
  readonly audit: AuditStore;
  /** The messaging tables (outbox, deliveries, dead letters, leases). */
  readonly messaging: MessageStore;
  /** Applies the schema migrations that have not run yet. */
  migrate(): Promise<void>;
  /** The newest migration recorded in the store and the newest this code has (readiness compares them). */
  schemaVersion(): Promise<{ applied: number; latest: number }>;
  /**
   * For a long-running server: starts whatever housekeeping the engine runs beside requests (the
   * embedded store's WAL checkpoints on a thread of their own). Command-line tools do not call it.
   */
  startBackgroundWork?(): void;
  /** Tells `observer` of each committed batch (the operations metrics); returns the detach. */
  observeCommits(observer: CommitObserver): () => void;
  /** The engine's size, group-commit queue and pool, for the operations metrics (read at scrape time). */
  storeStats(): Promise<StoreStats>;
  close(): Promise<void>;
}
