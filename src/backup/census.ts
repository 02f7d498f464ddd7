import type Database from 'better-sqlite3';
import pg from 'pg';
import type { SignedAuditCheckpoint } from '../audit/types.js';

/** What a backup manifest records of a store: rows per table, the audit chain head, the newest checkpoint. */
export interface StoreCensus {
  tables: Record<string, number>;
  auditHead: { seq: number; hash: string };
  checkpoint: SignedAuditCheckpoint | null;
}

/**
 * Tables whose rows are never deleted: a later store holds at least a backup's count. The others
 * shrink by design (delivered outbox messages and their deliveries are pruned, leases come and go,
 * an update drops the resource's old search_index rows), so `backup verify` reports them only.
 */
export const GROW_ONLY_TABLES: ReadonlySet<string> = new Set([
  'resources',
  'resource_versions',
  'request_log',
  'audit_log',
  'audit_checkpoints',
  'schema_migrations',
]);

interface CheckpointRow {
  seq: number | string;
  hash: string;
  signed_at: string;
  jws: string;
}
const CHECKPOINT_SQL =
  'SELECT seq, hash, signed_at, jws FROM audit_checkpoints ORDER BY seq DESC LIMIT 1';
const toCheckpoint = (r: CheckpointRow | undefined): SignedAuditCheckpoint | null =>
  r ? { seq: Number(r.seq), hash: r.hash, time: r.signed_at, jws: r.jws } : null;
const quoted = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** The census of an SQLite database, read in one transaction (one snapshot, even of a live store). */
export function sqliteCensus(db: Database.Database): StoreCensus {
  return db.transaction(() => {
    const names = (
      db
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .all() as { name: string }[]
    ).map((r) => r.name);
    const tables: Record<string, number> = {};
    for (const name of names)
      tables[name] = (
        db.prepare(`SELECT count(*) AS n FROM ${quoted(name)}`).get() as { n: number }
      ).n;
    const head = db.prepare('SELECT seq, hash FROM audit_head WHERE id = 1').get() as
      { seq: number; hash: string } | undefined;
    if (!head) throw new Error('the database has no audit chain head (not an OpenSpine store?)');
    const checkpoint = toCheckpoint(db.prepare(CHECKPOINT_SQL).get() as CheckpointRow | undefined);
    return { tables, auditHead: { seq: head.seq, hash: head.hash }, checkpoint };
  })();
}

/** The census of a PostgreSQL schema, read in one REPEATABLE READ transaction (one snapshot). */
export async function postgresCensus(databaseUrl: string, schema: string): Promise<StoreCensus> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const names = (
      await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables
         WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`,
        [schema],
      )
    ).rows.map((r) => r.table_name);
    if (!names.includes('audit_head'))
      throw new Error(`schema '${schema}' holds no OpenSpine store (no audit_head table)`);
    const tables: Record<string, number> = {};
    for (const name of names) {
      const res = await client.query<{ n: string }>(
        `SELECT count(*) AS n FROM ${quoted(schema)}.${quoted(name)}`,
      );
      tables[name] = Number(res.rows[0].n);
    }
    const head = await client.query<{ seq: string; hash: string }>(
      `SELECT seq, hash FROM ${quoted(schema)}.audit_head WHERE id`,
    );
    const checkpoint = await client.query<CheckpointRow>(
      CHECKPOINT_SQL.replace('audit_checkpoints', `${quoted(schema)}.audit_checkpoints`),
    );
    await client.query('COMMIT');
    return {
      tables,
      auditHead: { seq: Number(head.rows[0].seq), hash: head.rows[0].hash },
      checkpoint: toCheckpoint(checkpoint.rows[0]),
    };
  } finally {
    await client.end();
  }
}
