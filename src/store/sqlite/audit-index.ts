import type Database from 'better-sqlite3';
import { AUDIT_INDEX_COLUMNS, auditWhere, contiguousFrom } from '../../audit/audit-index-sql.js';
import type { AuditEntry, AuditQuery, SignedAuditCheckpoint } from '../../audit/types.js';

interface LogRow {
  seq: number;
  record: string;
  prev_hash: string;
  hash: string;
}
interface CheckpointRow {
  seq: number;
  hash: string;
  signed_at: string;
  jws: string;
}

const toEntry = (r: LogRow): AuditEntry => ({
  seq: r.seq,
  record: JSON.parse(r.record),
  recordJson: r.record,
  prevHash: r.prev_hash,
  hash: r.hash,
});
const toCheckpoint = (r: CheckpointRow): SignedAuditCheckpoint => ({
  seq: r.seq,
  hash: r.hash,
  time: r.signed_at,
  jws: r.jws,
});

/** The audit search index and the signed checkpoints of the embedded store. */
export class SqliteAuditIndex {
  constructor(
    private readonly db: Database.Database,
    private readonly stmt: (sql: string) => Database.Statement,
  ) {}

  /**
   * One immediate (write-locked) transaction: read the checkpoint, index the entries after it, move
   * it on. Other processes on the same file wait for the lock and then see the moved checkpoint.
   */
  indexPage(pageSize: number): { checkpoint: number; indexed: number } {
    return this.db
      .transaction(() => {
        const checkpoint = this.checkpoint();
        const seqs = contiguousFrom(
          checkpoint,
          this.stmt('SELECT seq FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?').all(
            checkpoint,
            pageSize,
          ) as { seq: number }[],
        );
        if (seqs.length === 0) return { checkpoint, indexed: 0 };
        const next = seqs[seqs.length - 1].seq;
        // one statement, the JSON read in SQLite itself: about half the cost of row-by-row inserts
        this.stmt(
          `INSERT OR IGNORE INTO audit_index (seq, time, patient, user_id, org, action, type)
                 SELECT ${AUDIT_INDEX_COLUMNS.sqlite} FROM audit_log WHERE seq > ? AND seq <= ?`,
        ).run(checkpoint, next);
        this.stmt('UPDATE audit_index_state SET indexed_seq = max(indexed_seq, ?)').run(next);
        return { checkpoint: next, indexed: seqs.length };
      })
      .immediate();
  }

  checkpoint(): number {
    return (this.stmt('SELECT indexed_seq FROM audit_index_state').get() as { indexed_seq: number })
      .indexed_seq;
  }

  search(query: AuditQuery, limit: number): number[] {
    const { where, params } = auditWhere(query, () => '?');
    return (
      this.stmt(`SELECT seq FROM audit_index ${where} ORDER BY seq DESC LIMIT ?`).all(
        ...params,
        limit,
      ) as { seq: number }[]
    ).map((r) => r.seq);
  }

  count(query: AuditQuery): number {
    const { where, params } = auditWhere(query, () => '?');
    return (
      this.stmt(`SELECT count(*) AS n FROM audit_index ${where}`).get(...params) as { n: number }
    ).n;
  }

  readEntries(seqs: number[]): AuditEntry[] {
    if (seqs.length === 0) return [];
    // json_each keeps it one prepared statement whatever the number of seqs
    return (
      this.stmt(
        'SELECT seq, record, prev_hash, hash FROM audit_log WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq',
      ).all(JSON.stringify(seqs)) as LogRow[]
    ).map(toEntry);
  }

  saveCheckpoint(cp: SignedAuditCheckpoint): boolean {
    return (
      this.stmt(
        'INSERT INTO audit_checkpoints (seq, hash, signed_at, jws) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
      ).run(cp.seq, cp.hash, cp.time, cp.jws).changes === 1
    );
  }

  checkpoints(fromSeq: number, toSeq: number): SignedAuditCheckpoint[] {
    return (
      this.stmt(
        'SELECT seq, hash, signed_at, jws FROM audit_checkpoints WHERE seq >= ? AND seq <= ? ORDER BY seq',
      ).all(fromSeq, toSeq) as CheckpointRow[]
    ).map(toCheckpoint);
  }

  latestCheckpoint(beforeSeq = Number.MAX_SAFE_INTEGER): SignedAuditCheckpoint | null {
    const row = this.stmt(
      'SELECT seq, hash, signed_at, jws FROM audit_checkpoints WHERE seq < ? ORDER BY seq DESC LIMIT 1',
    ).get(beforeSeq) as CheckpointRow | undefined;
    return row ? toCheckpoint(row) : null;
  }
}
