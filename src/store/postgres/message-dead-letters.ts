/**
 * Dead letters in the PostgreSQL messaging tables: a delivery given up on is marked dead and its
 * message kept, to be listed, read and replayed (with the replay's audit in the same transaction).
 */
import type pg from 'pg';
import { randomUUID } from 'node:crypto';
import type { DeadLetter, DeliveredMessage } from '../../messaging/types.js';
import { errorText, toDeadLetter, type DeadLetterRow } from '../message-rows.js';
import type { AuditRecord } from '../../audit/types.js';
import type { ReplayOutcome } from '../message-store.js';
import type { Tx } from './message-outbox.js';

const DEAD_COLUMNS = 'id, consumer, message, attempts, last_error, dead_at, replayed_at';

/** Marks the delivery dead and records a dead letter, atomically; false if it was already done or dead. */
export async function deadLetter(
  tx: Tx,
  consumer: string,
  message: DeliveredMessage,
  error: string,
): Promise<boolean> {
  const text = errorText(error);
  return tx(async (c) => {
    const res = await c.query(
      `INSERT INTO deliveries (consumer, message_id, seq, key, state, attempts, last_error) VALUES ($1, $2, $3, $4, 'dead', $5, $6)
       ON CONFLICT (consumer, message_id) DO UPDATE SET state = 'dead', attempts = excluded.attempts, last_error = excluded.last_error,
         lease_until = NULL, holder = NULL WHERE deliveries.state = 'pending'`,
      [consumer, message.id, message.seq, message.key, message.attempt, text],
    );
    if (res.rowCount !== 1) return false;
    await c.query(
      `INSERT INTO dead_letters (id, consumer, message_id, seq, message, attempts, last_error, dead_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        randomUUID(),
        consumer,
        message.id,
        message.seq,
        JSON.stringify(message),
        message.attempt,
        text,
        new Date().toISOString(),
      ],
    );
    return true;
  });
}

export async function listDeadLetters(
  pool: pg.Pool,
  query: { consumer?: string; limit: number },
): Promise<DeadLetter[]> {
  const { rows } =
    query.consumer === undefined
      ? await pool.query<DeadLetterRow>(
          `SELECT ${DEAD_COLUMNS} FROM dead_letters ORDER BY dead_at DESC, id LIMIT $1`,
          [query.limit],
        )
      : await pool.query<DeadLetterRow>(
          `SELECT ${DEAD_COLUMNS} FROM dead_letters WHERE consumer = $1 ORDER BY dead_at DESC, id LIMIT $2`,
          [query.consumer, query.limit],
        );
  return rows.map(toDeadLetter);
}

export async function readDeadLetter(pool: pg.Pool, id: string): Promise<DeadLetter | null> {
  const { rows } = await pool.query<DeadLetterRow>(
    `SELECT ${DEAD_COLUMNS} FROM dead_letters WHERE id = $1`,
    [id],
  );
  return rows.length ? toDeadLetter(rows[0]) : null;
}

/** Puts the dead message back as a pending delivery; the caller wakes the buses when it replayed. */
export function replayDeadLetter(
  tx: Tx,
  appendAudit: (c: pg.PoolClient, records: AuditRecord[]) => Promise<void>,
  id: string,
  audit: AuditRecord[],
): Promise<ReplayOutcome> {
  return tx(async (c): Promise<ReplayOutcome> => {
    const { rows } = await c.query<{
      consumer: string;
      message_id: string;
      seq: string;
      message: string;
      replayed_at: string | null;
    }>(
      'SELECT consumer, message_id, seq, message, replayed_at FROM dead_letters WHERE id = $1 FOR UPDATE',
      [id],
    );
    if (rows.length === 0) return 'not-found';
    const row = rows[0];
    if (row.replayed_at) return 'already-replayed';
    await c.query('UPDATE dead_letters SET replayed_at = $1 WHERE id = $2', [
      new Date().toISOString(),
      id,
    ]);
    await c.query(
      `INSERT INTO deliveries (consumer, message_id, seq, key, state) VALUES ($1, $2, $3, $4, 'pending')
       ON CONFLICT (consumer, message_id) DO UPDATE SET state = 'pending', attempts = 0, next_at = 0, lease_until = NULL, holder = NULL`,
      [row.consumer, row.message_id, row.seq, (JSON.parse(row.message) as DeliveredMessage).key],
    );
    if (audit.length) await appendAudit(c, audit);
    return 'replayed';
  });
}
