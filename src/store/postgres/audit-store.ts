import type pg from 'pg';
import type { AuditEntry, AuditQuery, SignedAuditCheckpoint } from '../../audit/types.js';
import type { AuditStore } from '../audit-store.js';
import { PostgresAuditIndex } from './audit-index.js';

/**
 * The PostgreSQL store's audit trail (repo.audit): the hash-chained log that commit() appends to
 * (commit-function.ts), its search index and the signed checkpoints (audit-index.ts).
 */
export class PostgresAuditStore implements AuditStore {
  private readonly index: PostgresAuditIndex;

  constructor(
    private readonly pool: pg.Pool,
    tx: <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>,
  ) {
    this.index = new PostgresAuditIndex(pool, tx);
  }

  async auditHead(): Promise<{ seq: number; hash: string }> {
    const res = await this.pool.query<{ seq: string; hash: string }>(
      'SELECT seq, hash FROM audit_head WHERE id',
    );
    return { seq: Number(res.rows[0].seq), hash: res.rows[0].hash };
  }

  async readAudit(afterSeq: number, limit: number): Promise<AuditEntry[]> {
    const { rows } = await this.pool.query<{
      seq: string;
      record: string;
      prev_hash: string;
      hash: string;
    }>('SELECT seq, record, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2', [
      afterSeq,
      limit,
    ]);
    return rows.map((r) => ({
      seq: Number(r.seq),
      record: JSON.parse(r.record),
      recordJson: r.record,
      prevHash: r.prev_hash,
      hash: r.hash,
    }));
  }

  indexAuditPage(pageSize: number): Promise<{ checkpoint: number; indexed: number }> {
    return this.index.indexPage(pageSize);
  }

  auditIndexCheckpoint(): Promise<number> {
    return this.index.checkpoint();
  }

  searchAudit(query: AuditQuery, limit: number): Promise<number[]> {
    return this.index.search(query, limit);
  }

  countAudit(query: AuditQuery): Promise<number> {
    return this.index.count(query);
  }

  readAuditEntries(seqs: number[]): Promise<AuditEntry[]> {
    return this.index.readEntries(seqs);
  }

  saveAuditCheckpoint(checkpoint: SignedAuditCheckpoint): Promise<boolean> {
    return this.index.saveCheckpoint(checkpoint);
  }

  auditCheckpoints(fromSeq: number, toSeq: number): Promise<SignedAuditCheckpoint[]> {
    return this.index.checkpoints(fromSeq, toSeq);
  }

  latestAuditCheckpoint(beforeSeq?: number): Promise<SignedAuditCheckpoint | null> {
    return this.index.latestCheckpoint(beforeSeq);
  }
}
