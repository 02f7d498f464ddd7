import type pg from 'pg';
import { AUDIT_INDEX_COLUMNS, auditWhere, contiguousFrom } from '../../audit/audit-index-sql.js';
import type { AuditEntry, AuditQuery, SignedAuditCheckpoint } from '../../audit/types.js';

interface LogRow {
  seq: string;
  record: string;
  prev_hash: string;
  hash: string;
}
interface CheckpointRow {
  seq: string;
  hash: string;
  signed_at: string;
  jws: string;
}

const toEntry = (r: LogRow): AuditEntry => ({
  seq: Number(r.seq),
  record: JSON.parse(r.record),
  recordJson: r.record,
  prevHash: r.prev_hash,
  hash: r.hash,
});
const toCheckpoint = (r: CheckpointRow): SignedAuditCheckpoint => ({
  seq: Number(r.seq),
  hash: r.hash,
  time: r.signed_at,
  jws: r.jws,
});
const dollar = (n: number) => '$' + n;

/** The audit search index and the signed checkpoints of the PostgreSQL store. */
export class PostgresAuditIndex {
  constructor(
    private readonly pool: pg.Pool,
    private readonly tx: <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>,
  ) {}

  /**
   * Indexers on every node take turns on the state row lock, and each re-reads the checkpoint once
   * it holds the lock, so no two index the same page. Inserts still skip rows already present and
   * the checkpoint only moves forward, so even an indexer that got around the lock could do no harm.
   */
  async indexPage(pageSize: number): Promise<{ checkpoint: number; indexed: number }> {
    return this.tx(async (c) => {
      const state = await c.query<{ indexed_seq: string }>(
        'SELECT indexed_seq FROM audit_index_state WHERE id FOR UPDATE',
      );
      const checkpoint = Number(state.rows[0].indexed_seq);
      // appends take turns on the audit_head lock, so seqs become visible in order; contiguousFrom guards it anyway
      const { rows: seqRows } = await c.query<{ seq: string }>(
        'SELECT seq FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2',
        [checkpoint, pageSize],
      );
      const seqs = contiguousFrom(
        checkpoint,
        seqRows.map((r) => ({ seq: Number(r.seq) })),
      );
      if (seqs.length === 0) return { checkpoint, indexed: 0 };
      const next = seqs[seqs.length - 1].seq;
      await c.query(
        `INSERT INTO audit_index (seq, time, patient, user_id, org, action, type)
         SELECT ${AUDIT_INDEX_COLUMNS.postgres} FROM audit_log WHERE seq > $1 AND seq <= $2
         ON CONFLICT (seq) DO NOTHING`,
        [checkpoint, next],
      );
      await c.query(
        'UPDATE audit_index_state SET indexed_seq = GREATEST(indexed_seq, $1) WHERE id',
        [next],
      );
      return { checkpoint: next, indexed: seqs.length };
    });
  }

  async checkpoint(): Promise<number> {
    const { rows } = await this.pool.query<{ indexed_seq: string }>(
      'SELECT indexed_seq FROM audit_index_state WHERE id',
    );
    return Number(rows[0].indexed_seq);
  }

  async search(query: AuditQuery, limit: number): Promise<number[]> {
    const { where, params } = auditWhere(query, dollar);
    const { rows } = await this.pool.query<{ seq: string }>(
      `SELECT seq FROM audit_index ${where} ORDER BY seq DESC LIMIT ${dollar(params.length + 1)}`,
      [...params, limit],
    );
    return rows.map((r) => Number(r.seq));
  }

  async count(query: AuditQuery): Promise<number> {
    const { where, params } = auditWhere(query, dollar);
    const { rows } = await this.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM audit_index ${where}`,
      params,
    );
    return Number(rows[0].n);
  }

  async readEntries(seqs: number[]): Promise<AuditEntry[]> {
    if (seqs.length === 0) return [];
    const { rows } = await this.pool.query<LogRow>(
      'SELECT seq, record, prev_hash, hash FROM audit_log WHERE seq = ANY($1::bigint[]) ORDER BY seq',
      [seqs],
    );
    return rows.map(toEntry);
  }

  async saveCheckpoint(cp: SignedAuditCheckpoint): Promise<boolean> {
    const res = await this.pool.query(
      'INSERT INTO audit_checkpoints (seq, hash, signed_at, jws) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',
      [cp.seq, cp.hash, cp.time, cp.jws],
    );
    return res.rowCount === 1;
  }

  async checkpoints(fromSeq: number, toSeq: number): Promise<SignedAuditCheckpoint[]> {
    const { rows } = await this.pool.query<CheckpointRow>(
      'SELECT seq, hash, signed_at, jws FROM audit_checkpoints WHERE seq >= $1 AND seq <= $2 ORDER BY seq',
      [fromSeq, toSeq],
    );
    return rows.map(toCheckpoint);
  }

  async latestCheckpoint(
    beforeSeq = Number.MAX_SAFE_INTEGER,
  ): Promise<SignedAuditCheckpoint | null> {
    const { rows } = await this.pool.query<CheckpointRow>(
      'SELECT seq, hash, signed_at, jws FROM audit_checkpoints WHERE seq < $1 ORDER BY seq DESC LIMIT 1',
      [beforeSeq],
    );
    return rows.length ? toCheckpoint(rows[0]) : null;
  }
}
