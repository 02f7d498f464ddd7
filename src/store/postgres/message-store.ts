import type pg from 'pg';
import type { DeadLetter, DeliveredMessage } from '../../messaging/types.js';
import { CommitListeners } from '../message-rows.js';
import type { AuditRecord } from '../../audit/types.js';
import type { MessageStore, OutboxRecord, QueueStats, ReplayOutcome } from '../message-store.js';
import { postgresQueueStats } from './message-stats.js';
import { OutboxCursors } from './message-cursors.js';
import {
  deadLetter,
  listDeadLetters,
  readDeadLetter,
  replayDeadLetter,
} from './message-dead-letters.js';
import {
  claimDeliveries,
  deliveryState,
  DeliveryCompletions,
  renewDelivery,
  retryDelivery,
} from './message-deliveries.js';
import { releaseLease, tryAcquireLease } from './message-leases.js';
import { markRelayed, readOutbox, sweepOutbox, unrelayed, type Tx } from './message-outbox.js';

/**
 * Messaging tables of the PostgreSQL store, shared by every node. Cursors are moved under a row
 * lock taken with SKIP LOCKED (one mover at a time, the others go on to claim), deliveries are
 * claimed with FOR UPDATE SKIP LOCKED and re-checked in the UPDATE, so each delivery has one holder.
 * This class is the MessageStore face; the work lives beside it: message-outbox.ts (outbox, relay
 * marks, sweep), message-cursors.ts, message-deliveries.ts, message-dead-letters.ts and
 * message-leases.ts.
 */
export class PostgresMessageStore implements MessageStore {
  private readonly listeners = new CommitListeners();
  private readonly cursors: OutboxCursors;
  private readonly completions: DeliveryCompletions;

  constructor(
    private readonly pool: pg.Pool,
    private readonly tx: Tx,
    /** Appends to the audit chain inside the caller's transaction. */
    private readonly appendAudit: (c: pg.PoolClient, records: AuditRecord[]) => Promise<void>,
  ) {
    this.cursors = new OutboxCursors(pool, tx);
    this.completions = new DeliveryCompletions(pool);
  }

  committed(): void {
    this.listeners.notify();
  }

  onCommitted(listener: () => void): () => void {
    return this.listeners.add(listener);
  }

  readOutbox(afterSeq: number, limit: number): Promise<OutboxRecord[]> {
    return readOutbox(this.pool, afterSeq, limit);
  }

  enqueueDeliveries(
    consumer: string,
    wanted: (topic: string) => boolean,
    limit: number,
  ): Promise<number> {
    return this.cursors.enqueueDeliveries(consumer, wanted, limit);
  }

  claimDeliveries(
    consumer: string,
    holder: string,
    limit: number,
    leaseMs: number,
  ): Promise<DeliveredMessage[]> {
    return claimDeliveries(this.pool, consumer, holder, limit, leaseMs);
  }

  renewDelivery(
    consumer: string,
    messageId: string,
    holder: string,
    leaseMs: number,
  ): Promise<void> {
    return renewDelivery(this.pool, consumer, messageId, holder, leaseMs);
  }

  completeDelivery(consumer: string, message: OutboxRecord): Promise<boolean> {
    return this.completions.complete(consumer, message);
  }

  retryDelivery(
    consumer: string,
    messageId: string,
    error: string,
    retryAt: number,
  ): Promise<void> {
    return retryDelivery(this.pool, consumer, messageId, error, retryAt);
  }

  deadLetter(consumer: string, message: DeliveredMessage, error: string): Promise<boolean> {
    return deadLetter(this.tx, consumer, message, error);
  }

  deliveryState(consumer: string, messageId: string): Promise<'pending' | 'done' | 'dead' | null> {
    return deliveryState(this.pool, consumer, messageId);
  }

  listDeadLetters(query: { consumer?: string; limit: number }): Promise<DeadLetter[]> {
    return listDeadLetters(this.pool, query);
  }

  readDeadLetter(id: string): Promise<DeadLetter | null> {
    return readDeadLetter(this.pool, id);
  }

  async replayDeadLetter(id: string, audit: AuditRecord[] = []): Promise<ReplayOutcome> {
    const outcome = await replayDeadLetter(this.tx, this.appendAudit, id, audit);
    if (outcome === 'replayed') this.listeners.notify();
    return outcome;
  }

  unrelayed(limit: number): Promise<OutboxRecord[]> {
    return unrelayed(this.pool, limit);
  }

  markRelayed(seqs: number[]): Promise<void> {
    return markRelayed(this.pool, seqs);
  }

  sweep(options: {
    before: string;
    consumers: string[];
    requireRelayed: boolean;
    limit: number;
  }): Promise<{ outbox: number; deliveries: number }> {
    return sweepOutbox(this.tx, options);
  }

  queueStats(): Promise<QueueStats> {
    return postgresQueueStats(this.pool);
  }

  tryAcquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    return tryAcquireLease(this.pool, name, holder, ttlMs);
  }

  releaseLease(name: string, holder: string): Promise<void> {
    return releaseLease(this.pool, name, holder);
  }
}
