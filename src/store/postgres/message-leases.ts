/**
 * Leader leases in the PostgreSQL messaging tables, timed by the database's clock so every node
 * compares against the same one. Apart because leases share nothing with messages but the pool.
 */
import type pg from 'pg';

/** The database's clock in epoch ms: leases compare against one clock whichever node asks. */
const DB_NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

export async function tryAcquireLease(
  pool: pg.Pool,
  name: string,
  holder: string,
  ttlMs: number,
): Promise<boolean> {
  const res = await pool.query(
    `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, ${DB_NOW} + $3::bigint)
     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
     WHERE leases.holder = excluded.holder OR leases.expires_at < ${DB_NOW}`,
    [name, holder, ttlMs],
  );
  return res.rowCount === 1;
}

export async function releaseLease(pool: pg.Pool, name: string, holder: string): Promise<void> {
  await pool.query('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
}
