import type pg from 'pg';
import { randomUUID } from 'node:crypto';
import type { DeadLetter, DeliveredMessage } from '../../messaging/types.js';
import {
  CommitListeners,
  errorText,
  toDeadLetter,
  toDelivered,
  toOutboxRecord,
  type DeadLetterRow,
  type OutboxRow,
} from '../message-rows.js';
import type { AuditRecord } from '../../audit/types.js';
import type { MessageStore, OutboxRecord, ReplayOutcome } from '../message-store.js';

const OUTBOX_COLUMNS = 'o.seq, o.id, o.topic, o.key, o.body, o.time';
const DEAD_COLUMNS = 'id, consumer, message, attempts, last_error, dead_at, replayed_at';
const SKIP_PERSIST_MS = 1000;
/** The database's clock in epoch ms: leases compare against one clock whichever node asks. */
const DB_NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint';

type Tx = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>;

/**
 * Messaging tables of the PostgreSQL store, shared by every node. Cursors are moved under a row
 * lock taken with SKIP LOCKED (one mover at a time, the others go on to claim), deliveries are
 * claimed with FOR UPDATE SKIP LOCKED and re-checked in the UPDATE, so each delivery has one holder.
 */
export class PostgresMessageStore implements MessageStore {
  private readonly listeners = new CommitListeners();
  private readonly knownCursors = new Set<string>();
  /** Per consumer: outbox rows up to seq were read and none is wanted, though the stored cursor is behind them. */
  private readonly skipped = new Map<string, { seq: number; since: number }>();
  private completions: {
    consumer: string;
    message: OutboxRecord;
    resolve: (done: boolean) => void;
    reject: (err: unknown) => void;
  }[] = [];

  constructor(
    private readonly pool: pg.Pool,
    private readonly tx: Tx,
    /** Appends to the audit chain inside the caller's transaction. */
    private readonly appendAudit: (c: pg.PoolClient, records: AuditRecord[]) => Promise<void>,
  ) {}

  committed(): void {
    this.listeners.notify();
  }

  onCommitted(listener: () => void): () => void {
    return this.listeners.add(listener);
  }

  async readOutbox(afterSeq: number, limit: number): Promise<OutboxRecord[]> {
    const { rows } = await this.pool.query<OutboxRow>(
      `SELECT ${OUTBOX_COLUMNS} FROM outbox o WHERE o.seq > $1 ORDER BY o.seq LIMIT $2`,
      [afterSeq, limit],
    );
    return rows.map(toOutboxRecord);
  }

  async enqueueDeliveries(
    consumer: string,
    wanted: (topic: string) => boolean,
    limit: number,
  ): Promise<number> {
    if (!this.knownCursors.has(consumer)) {
      await this.pool.query(
        'INSERT INTO message_cursors (consumer, seq) VALUES ($1, 0) ON CONFLICT DO NOTHING',
        [consumer],
      );
      this.knownCursors.add(consumer);
    }
    // reads first, so an idle poll, or a page no one here wants, takes no row lock and no transaction
    const mark = this.skipped.get(consumer);
    const peek = await this.pool.query<OutboxRow & { cursor: string }>(
      `SELECT c.seq AS cursor, o.seq, o.topic FROM message_cursors c
       LEFT JOIN LATERAL (SELECT seq, topic FROM outbox WHERE seq > GREATEST(c.seq, $2) ORDER BY seq LIMIT $3) o ON true
       WHERE c.consumer = $1`,
      [consumer, mark?.seq ?? 0, limit],
    );
    const stored = Number(peek.rows[0]?.cursor ?? 0);
    const rows = peek.rows.filter((r) => r.seq !== null);
    if (rows.length === 0 || !rows.some((r) => wanted(r.topic))) {
      if (rows.length) this.skip(consumer, Number(rows[rows.length - 1].seq));
      await this.persistSkipped(consumer, stored, limit);
      return rows.length;
    }
    const moved = await this.tx(async (c) => {
      const cursor = await c.query<{ seq: string }>(
        'SELECT seq FROM message_cursors WHERE consumer = $1 FOR UPDATE SKIP LOCKED',
        [consumer],
      );
      if (cursor.rows.length === 0) return 0; // another node is moving this cursor
      // rows up to the skip mark were read above and none of them is wanted
      const from = Math.max(Number(cursor.rows[0].seq), this.skipped.get(consumer)?.seq ?? 0);
      const { rows } = await c.query<OutboxRow>(
        'SELECT seq, id, topic, key FROM outbox WHERE seq > $1 ORDER BY seq LIMIT $2',
        [from, limit],
      );
      if (rows.length === 0) return 0;
      const taken = rows.filter((r) => wanted(r.topic));
      if (taken.length) {
        await c.query(
          `INSERT INTO deliveries (consumer, message_id, seq, key, state)
           SELECT $1, t.id, t.seq, t.key, 'pending' FROM unnest($2::text[], $3::bigint[], $4::text[]) AS t(id, seq, key)
           ON CONFLICT DO NOTHING`,
          [consumer, taken.map((r) => r.id), taken.map((r) => r.seq), taken.map((r) => r.key)],
        );
      }
      await c.query('UPDATE message_cursors SET seq = GREATEST(seq, $2) WHERE consumer = $1', [
        consumer,
        rows[rows.length - 1].seq,
      ]);
      return rows.length;
    });
    if (moved > 0) this.skipped.delete(consumer);
    return moved;
  }

  private skip(consumer: string, seq: number): void {
    const mark = this.skipped.get(consumer);
    this.skipped.set(consumer, { seq, since: mark?.since ?? Date.now() });
  }

  /**
   * Outbox rows a consumer does not want move its cursor lazily: the stored cursor catches up once a
   * page of them has piled up, or a second after the first, or with the next wanted row. Until then
   * a restart (or another node) only reads them again and wants none of them: nothing is lost. The
   * outbox_head lock makes seqs visible in order, so no earlier row can appear behind the mark.
   */
  private async persistSkipped(consumer: string, stored: number, limit: number): Promise<void> {
    const mark = this.skipped.get(consumer);
    if (!mark || mark.seq <= stored) return;
    if (mark.seq - stored < limit && Date.now() - mark.since < SKIP_PERSIST_MS) return;
    await this.pool.query(
      'UPDATE message_cursors SET seq = GREATEST(seq, $2) WHERE consumer = $1',
      [consumer, mark.seq],
    );
    if (this.skipped.get(consumer) === mark) this.skipped.delete(consumer);
  }

  async claimDeliveries(
    consumer: string,
    holder: string,
    limit: number,
    leaseMs: number,
  ): Promise<DeliveredMessage[]> {
    const now = Date.now();
    const { rows } = await this.pool.query<{ message_id: string; seq: string; attempts: number }>(
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
    const messages = await this.pool.query<OutboxRow>(
      `SELECT ${OUTBOX_COLUMNS} FROM outbox o WHERE o.seq = ANY($1::bigint[]) ORDER BY o.seq`,
      [[...attempts.keys()]],
    );
    return messages.rows.map((r) => toDelivered(r, attempts.get(Number(r.seq))!));
  }

  async renewDelivery(
    consumer: string,
    messageId: string,
    holder: string,
    leaseMs: number,
  ): Promise<void> {
    await this.pool.query(
      `UPDATE deliveries SET lease_until = $1 WHERE consumer = $2 AND message_id = $3 AND holder = $4 AND state = 'pending'`,
      [Date.now() + leaseMs, consumer, messageId, holder],
    );
  }

  /**
   * Completions asked for in the same tick (a delivery worker completes a whole round at once) are
   * written by one statement; each caller still gets its own answer.
   */
  completeDelivery(consumer: string, message: OutboxRecord): Promise<boolean> {
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

  async retryDelivery(
    consumer: string,
    messageId: string,
    error: string,
    retryAt: number,
  ): Promise<void> {
    await this.pool.query(
      `UPDATE deliveries SET next_at = $1, last_error = $2, lease_until = NULL, holder = NULL
       WHERE consumer = $3 AND message_id = $4 AND state = 'pending'`,
      [retryAt, errorText(error), consumer, messageId],
    );
  }

  async deadLetter(consumer: string, message: DeliveredMessage, error: string): Promise<boolean> {
    const text = errorText(error);
    return this.tx(async (c) => {
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

  async deliveryState(
    consumer: string,
    messageId: string,
  ): Promise<'pending' | 'done' | 'dead' | null> {
    const { rows } = await this.pool.query<{ state: 'pending' | 'done' | 'dead' }>(
      'SELECT state FROM deliveries WHERE consumer = $1 AND message_id = $2',
      [consumer, messageId],
    );
    return rows[0]?.state ?? null;
  }

  async listDeadLetters(query: { consumer?: string; limit: number }): Promise<DeadLetter[]> {
    const { rows } =
      query.consumer === undefined
        ? await this.pool.query<DeadLetterRow>(
            `SELECT ${DEAD_COLUMNS} FROM dead_letters ORDER BY dead_at DESC, id LIMIT $1`,
            [query.limit],
          )
        : await this.pool.query<DeadLetterRow>(
            `SELECT ${DEAD_COLUMNS} FROM dead_letters WHERE consumer = $1 ORDER BY dead_at DESC, id LIMIT $2`,
            [query.consumer, query.limit],
          );
    return rows.map(toDeadLetter);
  }

  async readDeadLetter(id: string): Promise<DeadLetter | null> {
    const { rows } = await this.pool.query<DeadLetterRow>(
      `SELECT ${DEAD_COLUMNS} FROM dead_letters WHERE id = $1`,
      [id],
    );
    return rows.length ? toDeadLetter(rows[0]) : null;
  }

  async replayDeadLetter(id: string, audit: AuditRecord[] = []): Promise<ReplayOutcome> {
    const outcome = await this.tx(async (c): Promise<ReplayOutcome> => {
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
      if (audit.length) await this.appendAudit(c, audit);
      return 'replayed';
    });
    if (outcome === 'replayed') this.listeners.notify();
    return outcome;
  }

  async unrelayed(limit: number): Promise<OutboxRecord[]> {
    const { rows } = await this.pool.query<OutboxRow>(
      `SELECT ${OUTBOX_COLUMNS} FROM outbox o WHERE NOT o.relayed ORDER BY o.seq LIMIT $1`,
      [limit],
    );
    return rows.map(toOutboxRecord);
  }

  async markRelayed(seqs: number[]): Promise<void> {
    if (seqs.length)
      await this.pool.query('UPDATE outbox SET relayed = TRUE WHERE seq = ANY($1::bigint[])', [
        seqs,
      ]);
  }

  async sweep(options: {
    before: string;
    consumers: string[];
    requireRelayed: boolean;
    limit: number;
  }): Promise<{ outbox: number; deliveries: number }> {
    return this.tx(async (c) => {
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

  async tryAcquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const res = await this.pool.query(
      `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, ${DB_NOW} + $3::bigint)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE leases.holder = excluded.holder OR leases.expires_at < ${DB_NOW}`,
      [name, holder, ttlMs],
    );
    return res.rowCount === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.pool.query('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
  }
}
