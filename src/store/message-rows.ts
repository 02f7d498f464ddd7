import type { DeadLetter, DeliveredMessage } from '../messaging/types.js';
import type { OutboxRecord } from './message-store.js';

/** Row shapes and conversions shared by both stores' messaging tables (PostgreSQL returns BIGINT as text). */

export interface OutboxRow {
  seq: number | string;
  id: string;
  topic: string;
  key: string;
  body: string;
  time: string;
  /** Absent from queries that do not select it. */
  traceparent?: string | null;
}
export interface DeadLetterRow {
  id: string;
  consumer: string;
  message: string;
  attempts: number;
  last_error: string;
  dead_at: string;
  replayed_at: string | null;
}

export function toOutboxRecord(r: OutboxRow): OutboxRecord {
  const record: OutboxRecord = {
    seq: Number(r.seq),
    id: r.id,
    topic: r.topic,
    key: r.key,
    body: JSON.parse(r.body),
    time: r.time,
  };
  if (r.traceparent) record.traceparent = r.traceparent;
  return record;
}

export const toDelivered = (r: OutboxRow, attempt: number): DeliveredMessage => ({
  ...toOutboxRecord(r),
  attempt,
});

export function toDeadLetter(r: DeadLetterRow): DeadLetter {
  const letter: DeadLetter = {
    id: r.id,
    consumer: r.consumer,
    message: JSON.parse(r.message) as DeliveredMessage,
    attempts: r.attempts,
    lastError: r.last_error,
    deadAt: r.dead_at,
  };
  if (r.replayed_at) letter.replayedAt = r.replayed_at;
  return letter;
}

/** Listeners told (in this process) that a commit carried outbox messages: the embedded bus wakes at once. */
export class CommitListeners {
  private readonly listeners = new Set<() => void>();

  add(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(): void {
    for (const l of this.listeners) {
      try {
        l();
      } catch {
        /* a listener's failure is its own */
      }
    }
  }
}

/** Error text kept in delivery rows and dead letters: bounded, never a stack trace. */
export function errorText(error: string): string {
  return error.length > 2000 ? error.slice(0, 2000) + '...' : error;
}
