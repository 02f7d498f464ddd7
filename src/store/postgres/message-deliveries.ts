/**
 * Deliveries in the PostgreSQL messaging tables: claiming them under a lease, renewing it, retrying,
 * asking their state, and completing them, with completions of one tick batched into one statement.
 * Apart from the cursors that create deliveries and the dead letters that end them.
 */
import type pg from 'pg';
import type { DeliveredMessage } from '../../messaging/types.js';
import { errorText, toDelivered, type OutboxRow } from '../message-rows.js';
import type { OutboxRecord } from '../message-store.js';
import { OUTBOX_COLUMNS } from './message-outbox.js';

/**
 * Leases pending deliveries that are due and first of their key: claimed with FOR UPDATE SKIP LOCKED
 * and re-checked in the UPDATE, so each delivery has one holder.
 */
export async function claimDeliveries(
  pool: pg.Pool,
  consumer: string,
  holder: string,
  limit: number,
  leaseMs: number,
): Promise<DeliveredMessage[]> {
  const now = Date.now();
  const { rows } = await pool.query<{ message_id: string; seq: string; attempts: number }>(
    // Shaped so that any plan is a cheap one: the messaging tables grow from empty in seconds, long
    // before the planner's statistics catch up, and a join plan chosen for "one row" then rescanned
    // the whole backlog per candidate. The head-of-key test is a per-row index probe, and the locked
    // rows are updated by their tuple ids.
    `UPDATE deliveries d SET attempts = d.attempts + 1, lease_until = $3::bigint + $5::bigint, holder = $4
     WHERE d.ctid = ANY (ARRAY(
       SELECT p.ctid FROM deliveries p
        WHERE p.consumer = $1 AND p.state = 'pending' AND p.next_at <= $3 AND (p.lease_until IS NULL OR p.lease_until < $3)
          AND p.seq = (SELECT e.seq FROM deliveries e WHERE e.consumer = p.consumer AND e.key = p.key AND e.state = 'pending' ORDER BY e.seq LIMIT 1)
        ORDER BY p.seq LIMIT $2 FOR UPDATE SKIP LOCKED))
       AND d.state = 'pending' AND (d.lease_until IS NULL OR d.lease_until < $3)
     RETURNING d.message_id, d.seq, d.attempts`,
    [consumer, limit, now, holder, leaseMs],
  );
  if (rows.length === 0) return [];
  const attempts = new Map(rows.map((r) => [Number(r.seq), r.attempts]));
  const messages = await pool.query<OutboxRow>(
    `SELECT ${OUTBOX_COLUMNS} FROM outbox o WHERE o.seq = ANY($1::bigint[]) ORDER BY o.seq`,
    [[...attempts.keys()]],
  );
  return messages.rows.map((r) => toDelivered(r, attempts.get(Number(r.seq))!));
}

export async function renewDelivery(
  pool: pg.Pool,
  consumer: string,
  messageId: string,
  holder: string,
  leaseMs: number,
): Promise<void> {
  await pool.query(
    `UPDATE deliveries SET lease_until = $1 WHERE consumer = $2 AND message_id = $3 AND holder = $4 AND state = 'pending'`,
    [Date.now() + leaseMs, consumer, messageId, holder],
  );
}

export async function retryDelivery(
  pool: pg.Pool,
  consumer: string,
  messageId: string,
  error: string,
  retryAt: number,
): Promise<void> {
  await pool.query(
    `UPDATE deliveries SET next_at = $1, last_error = $2, lease_until = NULL, holder = NULL
     WHERE consumer = $3 AND message_id = $4 AND state = 'pending'`,
    [retryAt, errorText(error), consumer, messageId],
  );
}

export async function deliveryState(
  pool: pg.Pool,
  consumer: string,
  messageId: string,
): Promise<'pending' | 'done' | 'dead' | null> {
  const { rows } = await pool.query<{ state: 'pending' | 'done' | 'dead' }>(
    'SELECT state FROM deliveries WHERE consumer = $1 AND message_id = $2',
    [consumer, messageId],
  );
  return rows[0]?.state ?? null;
}

/**
 * Completions asked for in the same tick (a delivery worker completes a whole round at once) are
 * written by one statement; each caller still gets its own answer.
 */
export class DeliveryCompletions {
  private completions: {
    consumer: string;
    message: OutboxRecord;
    resolve: (done: boolean) => void;
    reject: (err: unknown) => void;
  }[] = [];

  constructor(private readonly pool: pg.Pool) {}

  complete(consumer: string, message: OutboxRecord): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.completions.push({ consumer, message, resolve, reject });
      if (this.completions.length === 1) queueMicrotask(() => void this.flushCompletions());
    });
  }

  private async flushCompletions(): Promise<void> {
    // one statement may touch a row once: a repeated (consumer, message) waits for the next statement
    const batch: typeof this.completions = [];
    const seen = new Set<string>();
    this.completions = this.completions.filter((c) => {
      const k = `${c.consumer}\u0000${c.message.id}`;
      if (seen.has(k)) return true;
      seen.add(k);
      batch.push(c);
      return false;
    });
    if (this.completions.length) queueMicrotask(() => void this.flushCompletions());
    if (batch.length === 1) {
      const [c] = batch;
      this.completeOne(c.consumer, c.message).then(c.resolve, c.reject);
      return;
    }
    try {
      const { rows } = await this.pool.query<{ consumer: string; message_id: string }>(
        `INSERT INTO deliveries (consumer, message_id, seq, key, state)
         SELECT t.consumer, t.id, t.seq, t.key, 'done' FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[]) AS t(consumer, id, seq, key)
         ON CONFLICT (consumer, message_id) DO UPDATE SET state = 'done', lease_until = NULL, holder = NULL WHERE deliveries.state = 'pending'
         RETURNING consumer, message_id`,
        [
          batch.map((c) => c.consumer),
          batch.map((c) => c.message.id),
          batch.map((c) => c.message.seq),
          batch.map((c) => c.message.key),
        ],
      );
      const changed = new Set(rows.map((r) => `${r.consumer}\u0000${r.message_id}`));
      for (const c of batch) c.resolve(changed.has(`${c.consumer}\u0000${c.message.id}`));
    } catch (err) {
      for (const c of batch) c.reject(err);
    }
  }

  private async completeOne(consumer: string, message: OutboxRecord): Promise<boolean> {
    const res = await this.pool.query(
      `INSERT INTO deliveries (consumer, message_id, seq, key, state) VALUES ($1, $2, $3, $4, 'done')
       ON CONFLICT (consumer, message_id) DO UPDATE SET state = 'done', lease_until = NULL, holder = NULL WHERE deliveries.state = 'pending'`,
      [consumer, message.id, message.seq, message.key],
    );
    return res.rowCount === 1;
  }
}
