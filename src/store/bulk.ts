import type { AuditRecord } from '../audit/types.js';
import type { BulkRows } from './bulk-rows.js';
import type { ResourceWrite } from './resource-store.js';
import { PostgresBulkLoader } from './postgres/bulk-load.js';
import { SqliteBulkLoader } from './sqlite/bulk-load.js';

/**
 * Loading many new resources fast (openspine seed, openspine migrate), beside the store rather than
 * through commit(): it writes the same rows commit() would for expectedVersion 0, with the audit
 * entries appended to the chain in the same transaction, so reads and searches cannot tell the
 * difference. Like commit(), a resource that already exists refuses the whole batch with
 * VersionConflictError. The rows' format is in bulk-rows.ts. The embedded store's loader does its
 * work synchronously, PostgreSQL's over the network, hence promises.
 */
export interface BulkLoader {
  /** The ids among `ids` that already exist as current resources of `type`. */
  existing(type: string, ids: string[]): Promise<Set<string>>;
  /** Writes the rows and appends the audit records, all in one transaction. */
  load(rows: BulkRows, audit: AuditRecord[]): Promise<void>;
  /** Commits new resources (expectedVersion 0 only) and audit records in one transaction. */
  commitNew(writes: ResourceWrite[], audit: AuditRecord[]): Promise<void>;
  /**
   * Puts the search-index rows a loader opened with stageIndex has staged into the index; returns
   * how many it added. Only the embedded store stages.
   */
  indexStaged?(): Promise<number>;
  /** Folds whatever the loader has buffered (the write-ahead log) into the store. */
  checkpoint(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Where to load (src/store/open.ts: bulkTargetOf(config)): the embedded store's database file, or
 * the PostgreSQL database and schema the repository was opened with.
 */
export interface BulkTarget {
  sqliteFile?: string;
  postgres?: { url: string; schema?: string };
}

export interface BulkLoaderOptions {
  /** Let the write-ahead log grow to this many pages between checkpoints (see SqliteBulkLoader). */
  walPages?: number;
  /** Checkpoint on a thread of its own, off the loading thread. */
  backgroundCheckpoints?: boolean;
  /**
   * The embedded store's page cache for this connection, in MiB (128 unless given). A national seed
   * inserts index rows all over a B-tree of gigabytes: the more of its pages stay cached, the fewer
   * are read back for each batch (1,024 MiB seeded 1M patients 47% faster than 128 MiB).
   */
  cacheMiB?: number;
  /**
   * The embedded store: stage search-index rows and build the index in one sorted pass at
   * indexStaged() (staged-index.ts). Searches miss the staged resources until then; the next open
   * of the store indexes what an interrupted load left staged. PostgreSQL's loader writes the
   * index as it goes.
   */
  stageIndex?: boolean;
}

/**
 * A bulk loader into the store, which must already be open and migrated; undefined when the target
 * names no store, and callers then write through commit().
 */
export function openBulkLoader(
  target: BulkTarget,
  opts: BulkLoaderOptions = {},
): BulkLoader | undefined {
  if (target.sqliteFile) return new SqliteBulkLoader(target.sqliteFile, opts);
  if (target.postgres) return new PostgresBulkLoader(target.postgres.url, target.postgres.schema);
  return undefined;
}
