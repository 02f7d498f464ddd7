import type Database from 'better-sqlite3';
import type { AuditEntry, AuditQuery, SignedAuditCheckpoint } from '../../audit/types.js';
import type { AuditStore } from '../audit-store.js';
import { readAuditHead } from './audit-append.js';
import { SqliteAuditIndex } from './audit-index.js';

/**
 * The embedded store's audit trail (repo.audit): the hash-chained log that commit() appends to
 * (audit-append.ts), its search index and the signed checkpoints (audit-index.ts).
 */
export class SqliteAuditStore implements AuditStore {
  private readonly index: SqliteAuditIndex;

  constructor(
    db: Database.Database,
    private readonly stmt: (sql: string) => Database.Statement,
  ) {
    this.index = new SqliteAuditIndex(db, stmt);
  }

  async auditHead(): Promise<{ seq: number; hash: string }> {
    return readAuditHead(this.stmt);
  }

  async readAudit(afterSeq: number, limit: number): Promise<AuditEntry[]> {
    const rows = this.stmt(
      'SELECT seq, record, prev_hash, hash FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?',
    ).all(afterSeq, limit) as { seq: number; record: string; prev_hash: string; hash: string }[];
    return rows.map((r) => ({
      seq: r.seq,
      record: JSON.parse(r.record),
      recordJson: r.record,
      prevHash: r.prev_hash,
      hash: r.hash,
    }));
  }

  async indexAuditPage(pageSize: number): Promise<{ checkpoint: number; indexed: number }> {
    return this.index.indexPage(pageSize);
  }

  async auditIndexCheckpoint(): Promise<number> {
    return this.index.checkpoint();
  }

  async searchAudit(query: AuditQuery, limit: number): Promise<number[]> {
    return this.index.search(query, limit);
  }

  async countAudit(query: AuditQuery): Promise<number> {
    return this.index.count(query);
  }

  async readAuditEntries(seqs: number[]): Promise<AuditEntry[]> {
    return this.index.readEntries(seqs);
  }

  async saveAuditCheckpoint(checkpoint: SignedAuditCheckpoint): Promise<boolean> {
    return this.index.saveCheckpoint(checkpoint);
  }

  async auditCheckpoints(fromSeq: number, toSeq: number): Promise<SignedAuditCheckpoint[]> {
    return this.index.checkpoints(fromSeq, toSeq);
  }

  async latestAuditCheckpoint(beforeSeq?: number): Promise<SignedAuditCheckpoint | null> {
    return this.index.latestCheckpoint(beforeSeq);
  }
}
