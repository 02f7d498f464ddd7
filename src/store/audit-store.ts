import type { AuditEntry, AuditQuery, SignedAuditCheckpoint } from '../audit/types.js';

/**
 * The audit side of the store (src/audit uses it), reached as `repo.audit`: the hash-chained log
 * that commit() appends to, its search index and the signed checkpoints of its head.
 */
export interface AuditStore {
  /** Audit entries with seq > afterSeq, in order. */
  readAudit(afterSeq: number, limit: number): Promise<AuditEntry[]>;
  /** The recorded head of the audit chain (last sequence number and hash). */
  auditHead(): Promise<{ seq: number; hash: string }>;
  /**
   * Indexes the next audit entries (at most pageSize, contiguous from the index checkpoint) and
   * moves the checkpoint past them, in one transaction. Safe when several processes run it at once.
   */
  indexAuditPage(pageSize: number): Promise<{ checkpoint: number; indexed: number }>;
  /** The last seq the audit index covers (every entry up to it is indexed). */
  auditIndexCheckpoint(): Promise<number>;
  /** Seqs of indexed entries matching the query, newest first, at most `limit`. */
  searchAudit(query: AuditQuery, limit: number): Promise<number[]>;
  /** How many indexed entries match the query. */
  countAudit(query: AuditQuery): Promise<number>;
  /** The entries with these seqs that exist, in seq order. */
  readAuditEntries(seqs: number[]): Promise<AuditEntry[]>;
  /** Stores a signed checkpoint; false when one for that seq is already stored (the first one stays). */
  saveAuditCheckpoint(checkpoint: SignedAuditCheckpoint): Promise<boolean>;
  /** Stored checkpoints with fromSeq <= seq <= toSeq, in seq order. */
  auditCheckpoints(fromSeq: number, toSeq: number): Promise<SignedAuditCheckpoint[]>;
  /** The stored checkpoint with the highest seq (below `beforeSeq` when given), if any. */
  latestAuditCheckpoint(beforeSeq?: number): Promise<SignedAuditCheckpoint | null>;
}
