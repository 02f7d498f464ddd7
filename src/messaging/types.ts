/**
 * The messaging seam. A service never publishes on its own: it puts its messages in the same
 * WriteBatch as the state change (the transactional outbox, WriteBatch.messages), so a message
 * exists exactly when the change committed. A MessageBus then carries outbox messages to consumers:
 * the embedded bus straight from the store, the NATS bus through JetStream for several nodes.
 * Delivery is at least once; the bus drops a message a consumer has already finished (message id
 * dedupe), and handlers are written to be idempotent for the rare redelivery after a crash.
 */

/** A message as a service writes it into the outbox. */
export interface OutboxMessage {
  /** UUID; the dedupe key everywhere (JetStream Nats-Msg-Id, consumer dedupe). */
  id: string;
  /** Dotted name of what happened, e.g. 'pds.patient.death', 'eps.prescription.released'. */
  topic: string;
  /** Ordering key: messages with the same key reach each consumer in outbox order (NHS Number for patient events). */
  key: string;
  /** JSON-serialisable payload. */
  body: unknown;
  /**
   * W3C traceparent of the trace that committed the message, when tracing is on (stamped by the
   * store commit, src/observability/tracing-spans.ts traceCommit): deliveries continue that trace.
   */
  traceparent?: string;
}

/** A message as a consumer receives it. */
export interface DeliveredMessage extends OutboxMessage {
  /** Outbox sequence number (increases with commit order). */
  seq: number;
  /** When the message was committed (ISO instant). */
  time: string;
  /** 1 on first delivery to this consumer, then 2, 3 ... on retries. */
  attempt: number;
}

export type MessageHandler = (message: DeliveredMessage) => Promise<void>;

export interface ConsumerOptions {
  /** Durable consumer name, the same on every node: each message is handled once per name across the cluster. */
  name: string;
  /** Topics taken; a trailing '.*' takes every topic under the prefix (e.g. 'pds.patient.*'). */
  topics: string[];
  /** Attempts before the message goes to the dead-letter queue (default 5). */
  maxAttempts?: number;
  /** Delay before the first retry; doubled on each further attempt (default 1000 ms). */
  retryDelayMs?: number;
}

export interface MessageBus {
  readonly kind: 'embedded' | 'nats';
  /** Registers a consumer; call before start(). */
  consume(options: ConsumerOptions, handler: MessageHandler): void;
  /** Starts delivering (and, for NATS, relaying the outbox). */
  start(): Promise<void>;
  /** Stops taking new messages and waits for handlers in flight. */
  stop(): Promise<void>;
  /**
   * Deletes what is older than retentionMs and no longer needed (finished deliveries, outbox rows
   * every consumer or the relay is past). Run on one node by the scheduler ('messaging.sweep').
   */
  sweep?(retentionMs: number): Promise<{ outbox: number; deliveries: number }>;
  /** What the bus knows of itself, for operators (GET /messaging/status). */
  status?(): BusStatus;
  /** Tells `observer` how each delivery on this node ends (the operations metrics); returns the detach. */
  observeDeliveries?(observer: DeliveryObserver): () => void;
}

/** How one delivery attempt ended: handled, failed with a retry to come, or dead-lettered. */
export type DeliveryOutcome = 'done' | 'retry' | 'dead';

/** Told of each delivery's outcome; the bus knows nothing of what listens. */
export interface DeliveryObserver {
  delivered(consumer: string, outcome: DeliveryOutcome): void;
}

/** The bus as this node sees it. */
export interface BusStatus {
  kind: 'embedded' | 'nats';
  /** The node (--node-id) this bus runs on. */
  nodeId: string;
  /** Started and not stopped. */
  running: boolean;
  /** Reaches its transport: the store for the embedded bus, the NATS server (and stream) for NATS. */
  connected: boolean;
  /** The consumers registered on it, by name. */
  consumers: string[];
}

/** A message that exhausted its attempts for one consumer. */
export interface DeadLetter {
  /** Dead-letter id (UUID). */
  id: string;
  consumer: string;
  message: DeliveredMessage;
  attempts: number;
  lastError: string;
  deadAt: string;
  /** Set when an operator replayed it. */
  replayedAt?: string;
}

/**
 * Jobs that run once across the cluster: a job runs only on the node holding its lease in the store
 * (renewed while the node runs it); when that node stops, another takes over.
 */
export interface JobScheduler {
  /** Registers a job run about every intervalMs on one node; call before start(). */
  every(name: string, intervalMs: number, job: () => Promise<void>): void;
  start(): Promise<void>;
  /** Stops scheduling, waits for a job in flight and gives the leases up. */
  stop(): Promise<void>;
}
