import type { ConsumerQueueStats, QueueStats } from './message-store.js';

/** The rows each store's counting queries return, before they are put together. */
export interface QueueStatsRows {
  outboxHead: number;
  unrelayed: number;
  oldestUnrelayedAt: string | null;
  cursors: { consumer: string; seq: number }[];
  pending: { consumer: string; pending: number; oldest_at: string | null }[];
  dead: { consumer: string; total: number; waiting: number }[];
}

/** Puts the counting queries' rows together, one entry per consumer name, by name. */
export function queueStatsOf(rows: QueueStatsRows): QueueStats {
  const consumers = new Map<string, ConsumerQueueStats>();
  const entry = (consumer: string) => {
    let c = consumers.get(consumer);
    if (!c) {
      c = { consumer, cursor: null, pending: 0, oldestPendingAt: null, deadLetters: 0 };
      consumers.set(consumer, c);
    }
    return c;
  };
  for (const r of rows.cursors) entry(r.consumer).cursor = Number(r.seq);
  for (const r of rows.pending) {
    const c = entry(r.consumer);
    c.pending = Number(r.pending);
    c.oldestPendingAt = r.oldest_at;
  }
  let total = 0;
  let awaitingReplay = 0;
  for (const r of rows.dead) {
    entry(r.consumer).deadLetters = Number(r.waiting);
    total += Number(r.total);
    awaitingReplay += Number(r.waiting);
  }
  return {
    outboxHead: Number(rows.outboxHead),
    unrelayed: Number(rows.unrelayed),
    oldestUnrelayedAt: rows.oldestUnrelayedAt,
    consumers: [...consumers.values()].sort((a, b) => (a.consumer < b.consumer ? -1 : 1)),
    deadLetters: { total, awaitingReplay },
  };
}

/** The per-consumer counting queries, the same text on both stores. */
export const PENDING_BY_CONSUMER = `SELECT d.consumer, COUNT(*) AS pending, MIN(o.time) AS oldest_at
  FROM deliveries d LEFT JOIN outbox o ON o.seq = d.seq WHERE d.state = 'pending' GROUP BY d.consumer`;
export const DEAD_BY_CONSUMER = `SELECT consumer, COUNT(*) AS total,
  SUM(CASE WHEN replayed_at IS NULL THEN 1 ELSE 0 END) AS waiting FROM dead_letters GROUP BY consumer`;
