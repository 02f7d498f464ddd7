import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import type { DeadLetter, DeliveredMessage, OutboxMessage } from '../../messaging/types.js';
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
import type { MessageStore, OutboxRecord, QueueStats, ReplayOutcome } from '../message-store.js';
import { sqliteQueueStats } from './message-stats.js';

const OUTBOX_COLUMNS = 'o.seq, o.id, o.topic, o.key, o.body, o.time, o.traceparent';
const DEAD_COLUMNS = 'id, consumer, message, attempts, last_error, dead_at, replayed_at';
const SKIP_PERSIST_MS = 1000;

/**
 * Messaging tables of the embedded store. SQLite has one writer at a time (immediate transactions,
 * busy timeout for other processes), so every claim below is a plain read-then-write inside one
 * write transaction: no two processes can take the same delivery or move the same cursor.
 */
export class SqliteMessageStore implements MessageStore {
  private readonly listeners = new CommitListeners();
  /** Per consumer: outbox rows up to seq were read and none is wanted, though the stored cursor is behind them. */
  private readonly skipped = new Map<string, { seq: number; since: number }>();
  private readonly completions: {
    consumer: string;
    message: OutboxRecord;
    resolve: (done: boolean) => void;
    reject: (err: unknown) => void;
  }[] = [];

  constructor(
    private readonly db: Database.Database,
    private readonly stmt: (sql: string) => Database.Statement,
    /** Appends to the audit chain inside the caller's transaction. */
    private readonly appendAudit: (records: AuditRecord[]) => void,
  ) {}

  /** Called inside commit()'s transaction; a message id already in the outbox is not written again. */
  insertOutbox(messages: OutboxMessage[], time: string): void {
    const insert = this.stmt(
      'INSERT INTO outbox (id, topic, key, body, time, traceparent) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING',
    );
    for (const m of messages)
      insert.run(m.id, m.topic, m.key, JSON.stringify(m.body ?? null), time, m.traceparent ?? null);
  }

  /** Called after commit()'s transaction committed. */
  committed(): void {
    this.listeners.notify();
  }

  onCommitted(listener: () => void): () => void {
    return this.listeners.add(listener);
  }

  async readOutbox(afterSeq: number, limit: number): Promise<OutboxRecord[]> {
    return (
      this.stmt(
        `SELECT ${OUTBOX_COLUMNS} FROM outbox o WHERE o.seq > ? ORDER BY o.seq LIMIT ?`,
      ).all(afterSeq, limit) as OutboxRow[]
    ).map(toOutboxRecord);
  }

  async enqueueDeliveries(
    consumer: string,
    wanted: (topic: string) => boolean,
    limit: number,
  ): Promise<number> {
    // reads first, so an idle poll, or a page no one here wants, never takes the write lock
    const stored = this.cursorOf(consumer);
    const mark = this.skipped.get(consumer);
    const from = Math.max(stored, mark?.seq ?? 0);
    const peek = this.stmt('SELECT seq, topic FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?').all(
      from,
      limit,
    ) as { seq: number; topic: string }[];
    if (peek.length === 0 || !peek.some((r) => wanted(r.topic))) {
      if (peek.length) this.skip(consumer, Number(peek[peek.length - 1].seq));
      this.persistSkipped(consumer, stored, limit);
      return peek.length;
    }
    const moved = this.db
      .transaction(() => {
        // rows up to the skip mark were read above and none of them is wanted
        const cursor = Math.max(this.cursorOf(consumer), this.skipped.get(consumer)?.seq ?? 0);
        const rows = this.stmt(
          'SELECT seq, id, topic, key FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?',
        ).all(cursor, limit) as OutboxRow[];
        if (rows.length === 0) return 0;
        const insert = this.stmt(
          `INSERT INTO deliveries (consumer, message_id, seq, key, state) VALUES (?, ?, ?, ?, 'pending') ON CONFLICT DO NOTHING`,
        );
        for (const r of rows) if (wanted(r.topic)) insert.run(consumer, r.id, r.seq, r.key);
        this.moveCursor(consumer, Number(rows[rows.length - 1].seq));
        return rows.length;
      })
      .immediate();
    this.skipped.delete(consumer);
    return moved;
  }

  private cursorOf(consumer: string): number {
    return (
      (
        this.stmt('SELECT seq FROM message_cursors WHERE consumer = ?').get(consumer) as
          { seq: number } | undefined
      )?.seq ?? 0
    );
  }

  /** Never moves a cursor back (another process may have moved it further meanwhile). */
  private moveCursor(consumer: string, seq: number): void {
    this.stmt(
      'INSERT INTO message_cursors (consumer, seq) VALUES (?, ?) ON CONFLICT (consumer) DO UPDATE SET seq = MAX(seq, excluded.seq)',
    ).run(consumer, seq);
  }

  private skip(consumer: string, seq: number): void {
    const mark = this.skipped.get(consumer);
    this.skipped.set(consumer, { seq, since: mark?.since ?? Date.now() });
  }

  /**
   * Outbox rows a consumer does not want move its cursor lazily: the stored cursor catches up once a
   * page of them has piled up, or a second after the first, or with the next wanted row. Until then
   * a restart (or another process) only reads them again and wants none of them: nothing is lost.
   */
  private persistSkipped(consumer: string, stored: number, limit: number): void {
    const mark = this.skipped.get(consumer);
    if (!mark || mark.seq <= stored) return;
    if (mark.seq - stored < limit && Date.now() - mark.since < SKIP_PERSIST_MS) return;
    this.db.transaction(() => this.moveCursor(consumer, mark.seq)).immediate();
    this.skipped.delete(consumer);
  }

  async claimDeliveries(
    consumer: string,
    holder: string,
    limit: number,
    leaseMs: number,
  ): Promise<DeliveredMessage[]> {
    // an idle poll only reads; the write transaction below runs when something is due, and looks again
    if (this.dueDeliveries(consumer, Date.now(), 1).length === 0) return [];
    return this.db
      .transaction(() => {
        const now = Date.now();
        const lease = this.stmt(
          'UPDATE deliveries SET attempts = attempts + 1, lease_until = ?, holder = ? WHERE consumer = ? AND message_id = ?',
        );
        return this.dueDeliveries(consumer, now, limit).map((r) => {
          lease.run(now + leaseMs, holder, consumer, r.message_id);
          return toDelivered(r, r.attempts + 1);
        });
      })
      .immediate();
  }

  /** Pending deliveries that are due, unleased and first of their key (no earlier pending delivery of the key). */
  private dueDeliveries(
    consumer: string,
    now: number,
    limit: number,
  ): (OutboxRow & { message_id: string; attempts: number })[] {
    return this.stmt(
      `SELECT d.message_id, d.attempts, ${OUTBOX_COLUMNS} FROM deliveries d JOIN outbox o ON o.seq = d.seq
       WHERE d.consumer = ? AND d.state = 'pending' AND d.next_at <= ? AND (d.lease_until IS NULL OR d.lease_until < ?)
         AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.consumer = d.consumer AND e.key = d.key AND e.state = 'pending' AND e.seq < d.seq)
       ORDER BY d.seq LIMIT ?`,
    ).all(consumer, now, now, limit) as (OutboxRow & { message_id: string; attempts: number })[];
  }

  async renewDelivery(
    consumer: string,
    messageId: string,
    holder: string,
    leaseMs: number,
  ): Promise<void> {
    this.stmt(
      `UPDATE deliveries SET lease_until = ? WHERE consumer = ? AND message_id = ? AND holder = ? AND state = 'pending'`,
    ).run(Date.now() + leaseMs, consumer, messageId, holder);
  }

  /**
   * Completions asked for in the same tick (a delivery worker completes a whole round at once) are
   * written in one transaction; each caller still gets its own answer.
   */
  completeDelivery(consumer: string, message: OutboxRecord): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.completions.push({ consumer, message, resolve, reject });
      if (this.completions.length === 1) queueMicrotask(() => this.flushCompletions());
    });
  }

  private flushCompletions(): void {
    const batch = this.completions.splice(0);
    try {
      const complete = this.stmt(
        `INSERT INTO deliveries (consumer, message_id, seq, key, state) VALUES (?, ?, ?, ?, 'done')
         ON CONFLICT (consumer, message_id) DO UPDATE SET state = 'done', lease_until = NULL, holder = NULL WHERE deliveries.state = 'pending'`,
      );
      const results = this.db
        .transaction(() =>
          batch.map(
            (c) =>
              complete.run(c.consumer, c.message.id, c.message.seq, c.message.key).changes === 1,
          ),
        )
        .immediate();
      batch.forEach((c, i) => c.resolve(results[i]));
    } catch (err) {
      for (const c of batch) c.reject(err);
    }
  }

  async retryDelivery(
    consumer: string,
    messageId: string,
    error: string,
    retryAt: number,
  ): Promise<void> {
    this.stmt(
      `UPDATE deliveries SET next_at = ?, last_error = ?, lease_until = NULL, holder = NULL
       WHERE consumer = ? AND message_id = ? AND state = 'pending'`,
    ).run(retryAt, errorText(error), consumer, messageId);
  }

  async deadLetter(consumer: string, message: DeliveredMessage, error: string): Promise<boolean> {
    return this.db
      .transaction(() => {
        const text = errorText(error);
        const res = this.stmt(
          `INSERT INTO deliveries (consumer, message_id, seq, key, state, attempts, last_error) VALUES (?, ?, ?, ?, 'dead', ?, ?)
         ON CONFLICT (consumer, message_id) DO UPDATE SET state = 'dead', attempts = excluded.attempts, last_error = excluded.last_error,
           lease_until = NULL, holder = NULL WHERE deliveries.state = 'pending'`,
        ).run(consumer, message.id, message.seq, message.key, message.attempt, text);
        if (res.changes !== 1) return false;
        this.stmt(
          `INSERT INTO dead_letters (id, consumer, message_id, seq, message, attempts, last_error, dead_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          randomUUID(),
          consumer,
          message.id,
          message.seq,
          JSON.stringify(message),
          message.attempt,
          text,
          new Date().toISOString(),
        );
        return true;
      })
      .immediate();
  }

  async deliveryState(
    consumer: string,
    messageId: string,
  ): Promise<'pending' | 'done' | 'dead' | null> {
    const row = this.stmt('SELECT state FROM deliveries WHERE consumer = ? AND message_id = ?').get(
      consumer,
      messageId,
    ) as { state: 'pending' | 'done' | 'dead' } | undefined;
    return row?.state ?? null;
  }

  async listDeadLetters(query: { consumer?: string; limit: number }): Promise<DeadLetter[]> {
    const rows =
      query.consumer === undefined
        ? this.stmt(
            `SELECT ${DEAD_COLUMNS} FROM dead_letters ORDER BY dead_at DESC, id LIMIT ?`,
          ).all(query.limit)
        : this.stmt(
            `SELECT ${DEAD_COLUMNS} FROM dead_letters WHERE consumer = ? ORDER BY dead_at DESC, id LIMIT ?`,
          ).all(query.consumer, query.limit);
    return (rows as DeadLetterRow[]).map(toDeadLetter);
  }

  async readDeadLetter(id: string): Promise<DeadLetter | null> {
    const row = this.stmt(`SELECT ${DEAD_COLUMNS} FROM dead_letters WHERE id = ?`).get(id) as
      DeadLetterRow | undefined;
    return row ? toDeadLetter(row) : null;
  }

  async replayDeadLetter(id: string, audit: AuditRecord[] = []): Promise<ReplayOutcome> {
    const outcome = this.db
      .transaction((): ReplayOutcome => {
        const row = this.stmt(
          'SELECT consumer, message_id, seq, message, replayed_at FROM dead_letters WHERE id = ?',
        ).get(id) as
          | {
              consumer: string;
              message_id: string;
              seq: number;
              message: string;
              replayed_at: string | null;
            }
          | undefined;
        if (!row) return 'not-found';
        if (row.replayed_at) return 'already-replayed';
        this.stmt('UPDATE dead_letters SET replayed_at = ? WHERE id = ?').run(
          new Date().toISOString(),
          id,
        );
        const key = (JSON.parse(row.message) as DeliveredMessage).key;
        this.stmt(
          `INSERT INTO deliveries (consumer, message_id, seq, key, state) VALUES (?, ?, ?, ?, 'pending')
         ON CONFLICT (consumer, message_id) DO UPDATE SET state = 'pending', attempts = 0, next_at = 0, lease_until = NULL, holder = NULL`,
        ).run(row.consumer, row.message_id, row.seq, key);
        if (audit.length) this.appendAudit(audit);
        return 'replayed';
      })
      .immediate();
    if (outcome === 'replayed') this.listeners.notify();
    return outcome;
  }

  async unrelayed(limit: number): Promise<OutboxRecord[]> {
    return (
      this.stmt(
        `SELECT ${OUTBOX_COLUMNS} FROM outbox o WHERE o.relayed = 0 ORDER BY o.seq LIMIT ?`,
      ).all(limit) as OutboxRow[]
    ).map(toOutboxRecord);
  }

  async markRelayed(seqs: number[]): Promise<void> {
    const mark = this.stmt('UPDATE outbox SET relayed = 1 WHERE seq = ?');
    this.db
      .transaction(() => {
        for (const s of seqs) mark.run(s);
      })
      .immediate();
  }

  async sweep(options: {
    before: string;
    consumers: string[];
    requireRelayed: boolean;
    limit: number;
  }): Promise<{ outbox: number; deliveries: number }> {
    return this.db
      .transaction(() => {
        const oldest = this.stmt('SELECT seq, time FROM outbox ORDER BY seq LIMIT ?').all(
          options.limit,
        ) as { seq: number; time: string }[];
        const expired = oldest.filter((r) => r.time < options.before);
        if (expired.length === 0) return { outbox: 0, deliveries: 0 };
        let upTo = expired[expired.length - 1].seq;
        const deliveries = this.stmt(
          `DELETE FROM deliveries WHERE seq <= ? AND state = 'done'`,
        ).run(upTo).changes;
        for (const consumer of options.requireRelayed ? [] : options.consumers) {
          const cursor = this.stmt('SELECT seq FROM message_cursors WHERE consumer = ?').get(
            consumer,
          ) as { seq: number } | undefined;
          upTo = Math.min(upTo, cursor?.seq ?? 0);
        }
        const outbox = this.stmt(
          `DELETE FROM outbox WHERE seq <= ? AND (relayed = 1 OR ? = 0) AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.seq = outbox.seq)`,
        ).run(upTo, options.requireRelayed ? 1 : 0).changes;
        return { outbox, deliveries };
      })
      .immediate();
  }

  async queueStats(): Promise<QueueStats> {
    return sqliteQueueStats(this.stmt);
  }

  async tryAcquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const now = Date.now();
    const res = this.stmt(
      `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE leases.holder = excluded.holder OR leases.expires_at < ?`,
    ).run(name, holder, now + ttlMs, now);
    return res.changes === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    this.stmt('DELETE FROM leases WHERE name = ? AND holder = ?').run(name, holder);
  }
}
