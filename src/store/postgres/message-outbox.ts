/**
 * The outbox side of the PostgreSQL messaging tables: reading committed messages in order, the NATS
 * relay's marks, and retention's sweep. Stateless functions over the pool, apart from the cursors
 * and deliveries that consume the outbox (message-cursors.ts, message-deliveries.ts).
 */
import type pg from 'pg';
import { toOutboxRecord, type OutboxRow } from '../message-rows.js';
import type { OutboxRecord } from '../message-store.js';

export const OUTBOX_COLUMNS = 'o.seq, o.id, o.topic, o.key, o.body, o.time, o.traceparent';

export type Tx = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>;

export async function readOutbox(
  pool: pg.Pool,
  afterSeq: number,
  limit: number,
): Promise<OutboxRecord[]> {
  const { rows } = await pool.query<OutboxRow>(
    `SELECT ${OUTBOX_COLUMNS} FROM outbox o WHERE o.seq > $1 ORDER BY o.seq LIMIT $2`,
    [afterSeq, limit],
  );
  return rows.map(toOutboxRecord);
}

export async function unrelayed(pool: pg.Pool, limit: number): Promise<OutboxRecord[]> {
  const { rows } = await pool.query<OutboxRow>(
    `SELECT ${OUTBOX_COLUMNS} FROM outbox o WHERE NOT o.relayed ORDER BY o.seq LIMIT $1`,
    [limit],
  );
  return rows.map(toOutboxRecord);
}

export async function markRelayed(pool: pg.Pool, seqs: number[]): Promise<void> {
  if (seqs.length)
    await pool.query('UPDATE outbox SET relayed = TRUE WHERE seq = ANY($1::bigint[])', [seqs]);
}

/** Retention: done deliveries and the outbox rows no delivery and no bus needs any more. */
export async function sweepOutbox(
  tx: Tx,
  options: {
    before: string;
    consumers: string[];
    requireRelayed: boolean;
    limit: number;
  },
): Promise<{ outbox: number; deliveries: number }> {
  return tx(async (c) => {
    const oldest = await c.query<{ seq: string; time: string }>(
      'SELECT seq, time FROM outbox ORDER BY seq LIMIT $1',
      [options.limit],
    );
    const expired = oldest.rows.filter((r) => r.time < options.before);
    if (expired.length === 0) return { outbox: 0, deliveries: 0 };
    let upTo = Number(expired[expired.length - 1].seq);
    const deliveries =
      (await c.query(`DELETE FROM deliveries WHERE seq <= $1 AND state = 'done'`, [upTo]))
        .rowCount ?? 0;
    if (!options.requireRelayed && options.consumers.length) {
      const cursors = await c.query<{ consumer: string; seq: string }>(
        'SELECT consumer, seq FROM message_cursors WHERE consumer = ANY($1::text[])',
        [options.consumers],
      );
      const at = new Map(cursors.rows.map((r) => [r.consumer, Number(r.seq)]));
      for (const consumer of options.consumers) upTo = Math.min(upTo, at.get(consumer) ?? 0);
    }
    const outbox =
      (
        await c.query(
          `DELETE FROM outbox o WHERE o.seq <= $1 AND (o.relayed OR NOT $2) AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = o.seq)`,
          [upTo, options.requireRelayed],
        )
      ).rowCount ?? 0;
    return { outbox, deliveries };
  });
}
