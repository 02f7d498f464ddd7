import type Database from 'better-sqlite3';
import type { QueueStats } from '../message-store.js';
import { DEAD_BY_CONSUMER, PENDING_BY_CONSUMER, queueStatsOf } from '../message-stats.js';

/**
 * The embedded store's messaging counters: reads only, over the partial indexes the bus uses
 * (pending deliveries, unrelayed rows), so they stay cheap while the outbox is large. The outbox head
 * is AUTOINCREMENT's counter: it survives retention sweeping every row away.
 */
export function sqliteQueueStats(stmt: (sql: string) => Database.Statement): QueueStats {
  const head = stmt(`SELECT seq FROM sqlite_sequence WHERE name = 'outbox'`).get() as
    { seq: number } | undefined;
  const unrelayed = stmt(
    'SELECT COUNT(*) AS n, MIN(seq) AS first FROM outbox WHERE relayed = 0',
  ).get() as { n: number; first: number | null };
  const oldest =
    unrelayed.first === null
      ? undefined
      : (stmt('SELECT time FROM outbox WHERE seq = ?').get(unrelayed.first) as
          { time: string } | undefined);
  return queueStatsOf({
    outboxHead: head?.seq ?? 0,
    unrelayed: unrelayed.n,
    oldestUnrelayedAt: oldest?.time ?? null,
    cursors: stmt('SELECT consumer, seq FROM message_cursors').all() as {
      consumer: string;
      seq: number;
    }[],
    pending: stmt(PENDING_BY_CONSUMER).all() as {
      consumer: string;
      pending: number;
      oldest_at: string | null;
    }[],
    dead: stmt(DEAD_BY_CONSUMER).all() as { consumer: string; total: number; waiting: number }[],
  });
}
