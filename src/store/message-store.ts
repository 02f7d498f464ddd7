import type { AuditRecord } from '../audit/types.js';
import type { DeadLetter, DeliveredMessage } from '../messaging/types.js';

/** An outbox message as committed: its sequence number (commit order) and commit time. */
export type OutboxRecord = Omit<DeliveredMessage, 'attempt'>;

/** One consumer's queue as the store holds it (see MessageStore.queueStats). */
export interface ConsumerQueueStats {
  consumer: string;
  /** The consumer's cursor over the outbox (embedded bus; null when it has none, as on NATS). */
  cursor: number | null;
  /** Deliveries waiting for it: not yet handled, or waiting for a retry. */
  pending: number;
  /** When the oldest waiting delivery's message was committed (null when none waits). */
  oldestPendingAt: string | null;
  /** Its dead letters not yet replayed. */
  deadLetters: number;
}

/** The messaging tables' counters, for operators (GET /messaging/status). */
export interface QueueStats {
  /** The last outbox sequence number given out (0 before the first message). */
  outboxHead: number;
  /** Outbox rows not yet relayed to NATS (every row counts here on the embedded bus). */
  unrelayed: number;
  /** When the oldest unrelayed row was committed (null when none). */
  oldestUnrelayedAt: string | null;
  /** Every consumer with a cursor, a delivery or a dead letter, by name. */
  consumers: ConsumerQueueStats[];
  deadLetters: { total: number; awaitingReplay: number };
}

/** What replaying a dead letter did. */
export type ReplayOutcome = 'replayed' | 'not-found' | 'already-replayed';

/**
 * Messaging tables of the store (src/messaging uses them; see docs/messaging.md): the outbox
 * (written by commit()), per-consumer cursors and delivery state, dead letters and leader leases.
 * Every claim is safe with several processes on one store. Times are epoch milliseconds.
 */
export interface MessageStore {
  /** Outbox messages with seq > afterSeq, in commit order. */
  readOutbox(afterSeq: number, limit: number): Promise<OutboxRecord[]>;
  /**
   * Moves the consumer's cursor over up to `limit` outbox messages, creating a pending delivery for
   * each whose topic `wanted` accepts. Returns how many outbox messages it moved over (0: caught up,
   * or another process is moving that cursor right now).
   */
  enqueueDeliveries(
    consumer: string,
    wanted: (topic: string) => boolean,
    limit: number,
  ): Promise<number>;
  /**
   * Leases up to `limit` pending deliveries that are due and first of their key (no earlier pending
   * delivery with the same key), counting an attempt on each. At most one holder gets each delivery.
   */
  claimDeliveries(
    consumer: string,
    holder: string,
    limit: number,
    leaseMs: number,
  ): Promise<DeliveredMessage[]>;
  /** Extends holder's lease on a delivery it is still handling. */
  renewDelivery(
    consumer: string,
    messageId: string,
    holder: string,
    leaseMs: number,
  ): Promise<void>;
  /**
   * Marks the message done for the consumer (creating the delivery row if the bus had none); false
   * if it was already done or dead.
   */
  completeDelivery(consumer: string, message: OutboxRecord): Promise<boolean>;
  /** Releases a failed pending delivery for another attempt at `retryAt`. */
  retryDelivery(consumer: string, messageId: string, error: string, retryAt: number): Promise<void>;
  /** Marks the delivery dead and records a dead letter, atomically; false if it was already done or dead. */
  deadLetter(consumer: string, message: DeliveredMessage, error: string): Promise<boolean>;
  /** 'done' or 'dead' when the consumer has finished with the message (dedupe), else null. */
  deliveryState(consumer: string, messageId: string): Promise<'pending' | 'done' | 'dead' | null>;
  /** Dead letters, newest first. */
  listDeadLetters(query: { consumer?: string; limit: number }): Promise<DeadLetter[]>;
  readDeadLetter(id: string): Promise<DeadLetter | null>;
  /**
   * Puts the dead message back as a pending delivery for its consumer only; `audit` is appended in
   * the same transaction when it replays.
   */
  replayDeadLetter(id: string, audit?: AuditRecord[]): Promise<ReplayOutcome>;
  /** Outbox messages not yet relayed to NATS, in commit order. */
  unrelayed(limit: number): Promise<OutboxRecord[]>;
  markRelayed(seqs: number[]): Promise<void>;
  /** Takes or renews the named lease for `holder`; true while holder has it (until now + ttlMs). */
  tryAcquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up, if holder has it. */
  releaseLease(name: string, holder: string): Promise<void>;
  /**
   * Deletes what retention no longer needs, up to `limit` rows of each kind: done deliveries of
   * messages committed before `before`, and outbox rows committed before it that no unfinished
   * delivery (pending, dead) still needs and that every bus is past: relayed (NATS), or behind the
   * cursor of each of `consumers` (embedded).
   */
  sweep(options: {
    before: string;
    consumers: string[];
    requireRelayed: boolean;
    limit: number;
  }): Promise<{ outbox: number; deliveries: number }>;
  /** Counters over the messaging tables (reads only: the status page's outbox and queue depths). */
  queueStats(): Promise<QueueStats>;
  /** Calls listener after each commit (in this process) that wrote outbox messages; returns the unsubscribe. */
  onCommitted(listener: () => void): () => void;
}
