import type pg from 'pg';
import type { QueueStats } from '../message-store.js';
import {
  DEAD_BY_CONSUMER,
  PENDING_BY_CONSUMER,
  queueStatsOf,
  type QueueStatsRows,
} from '../message-stats.js';

/**
 * The PostgreSQL store's messaging counters: reads only, over the partial indexes the bus uses
 * (pending deliveries, unrelayed rows), so they stay cheap while the outbox is large. The outbox head
 * is the outbox_head row every committing transaction takes its seqs from.
 */
export async function postgresQueueStats(pool: pg.Pool): Promise<QueueStats> {
  const [head, unrelayed, cursors, pending, dead] = await Promise.all([
    pool.query<{ seq: string }>('SELECT seq FROM outbox_head'),
    pool.query<{ n: string; oldest_at: string | null }>(
      `SELECT COUNT(*) AS n, (SELECT time FROM outbox WHERE NOT relayed ORDER BY seq LIMIT 1) AS oldest_at
       FROM outbox WHERE NOT relayed`,
    ),
    pool.query<QueueStatsRows['cursors'][number]>('SELECT consumer, seq FROM message_cursors'),
    pool.query<QueueStatsRows['pending'][number]>(PENDING_BY_CONSUMER),
    pool.query<QueueStatsRows['dead'][number]>(DEAD_BY_CONSUMER),
  ]);
  return queueStatsOf({
    outboxHead: Number(head.rows[0]?.seq ?? 0),
    unrelayed: Number(unrelayed.rows[0]?.n ?? 0),
    oldestUnrelayedAt: unrelayed.rows[0]?.oldest_at ?? null,
    cursors: cursors.rows,
    pending: pending.rows,
    dead: dead.rows,
  });
}
