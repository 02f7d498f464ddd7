/**
 * Per-consumer cursors over the outbox: moving a cursor turns the outbox rows a consumer wants into
 * pending deliveries. It keeps what it learns between calls (cursors known to exist, and rows read
 * but not wanted whose cursor move is deferred), so it sits apart from the stateless queries.
 */
import type { OutboxRow } from '../message-rows.js';
import type pg from 'pg';
import type { Tx } from './message-outbox.js';

const SKIP_PERSIST_MS = 1000;

/**
 * Cursors are moved under a row lock taken with SKIP LOCKED: one mover at a time, the others go on
 * to claim.
 */
export class OutboxCursors {
  private readonly knownCursors = new Set<string>();
  /** Per consumer: outbox rows up to seq were read and none is wanted, though the stored cursor is behind them. */
  private readonly skipped = new Map<string, { seq: number; since: number }>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly tx: Tx,
  ) {}

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
}
