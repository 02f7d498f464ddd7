import type { AuditRecord } from '../audit/types.js';
import type { BulkRows } from './bulk-rows.js';
import type { ResourceWrite } from './resource-store.js';
import { SqliteBulkLoader } from './sqlite/bulk-load.js';

/**
 * Loading many new resources fast (openspine seed, openspine migrate), beside the store rather than
 * through commit(): it writes the same rows commit() would for expectedVersion 0, with the audit
 * entries appended to the chain in the same transaction, so reads and searches cannot tell the
 * difference. Like commit(), a resource that already exists refuses the whole batch with
 * VersionConflictError. The rows' format is in bulk-rows.ts.
 */
export interface BulkLoader {
  /** The ids among `ids` that already exist as current resources of `type`. */
  existing(type: string, ids: string[]): Set<string>;
  /** Writes the rows and appends the audit records, all in one transaction. */
  load(rows: BulkRows, audit: AuditRecord[]): void;
  /** Commits new resources (expectedVersion 0 only) and audit records in one transaction. */
  commitNew(writes: ResourceWrite[], audit: AuditRecord[]): void;
  /** Folds whatever the loader has buffered (the write-ahead log) into the store. */
  checkpoint(): void;
  close(): Promise<void>;
}

/** Where to load: the embedded store's database file (src/store/open.ts: sqliteFileOf(config)). */
export interface BulkTarget {
  sqliteFile?: string;
}

export interface BulkLoaderOptions {
  /** Let the write-ahead log grow to this many pages between checkpoints (see SqliteBulkLoader). */
  walPages?: number;
  /** Checkpoint on a thread of its own, off the loading thread. */
  backgroundCheckpoints?: boolean;
}

/**
 * A bulk loader into the store, which must already be open and migrated; undefined when the store
 * has no bulk path (PostgreSQL), and callers then write through commit().
 */
export function openBulkLoader(
  target: BulkTarget,
  opts: BulkLoaderOptions = {},
): BulkLoader | undefined {
  return target.sqliteFile ? new SqliteBulkLoader(target.sqliteFile, opts) : undefined;
}
