import type { MessageStore } from '../store/message-store.js';
import { traceDelivery } from '../observability/tracing-spans.js';
import { describeError, retryDelay, type Consumer } from './consumer-registry.js';
import type { DeliveredMessage, DeliveryObserver } from './types.js';
import { Wakeup } from './wakeup.js';

export interface DeliveryWorkerOptions {
  /** Lease holder name (node id plus a random part). */
  holder: string;
  pollMs: number;
  /** Move the consumer's cursor over the outbox (embedded bus); the NATS bus only serves replayed deliveries here. */
  pump: boolean;
  /** How long a claimed delivery stays with this node before another may take it (a crashed node's work). */
  leaseMs?: number;
  log?: (message: string, err?: unknown) => void;
  /** Told how each delivery ends (the operations metrics). */
  outcomes?: DeliveryObserver;
}

const PAGE = 256;
/**
 * How long a worker woken from idle waits for the rest of a burst before a pass (adds at most this
 * to delivery latency).
 */
const GATHER_MS = 2;
const CLAIM = 64;

/**
 * Runs one consumer over the store's delivery rows: moves the cursor, claims due deliveries that
 * head their key, runs the handler, then marks done, schedules a retry or dead-letters. Deliveries
 * claimed together have distinct keys, so they run concurrently without breaking per-key order.
 */
export class DeliveryWorker {
  private readonly wakeup = new Wakeup();
  private running: Promise<void> | undefined;
  private stopping = false;
  private readonly leaseMs: number;

  constructor(
    private readonly store: MessageStore,
    private readonly consumer: Consumer,
    private readonly options: DeliveryWorkerOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 60_000;
  }

  start(): void {
    this.running ??= this.loop();
  }

  wake(): void {
    this.wakeup.wake();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeup.wake();
    await this.running;
  }

  private async loop(): Promise<void> {
    let failures = 0;
    let idle = false;
    while (!this.stopping) {
      try {
        // after a wake from idle, let the burst that woke it commit first, so one pass carries the
        // burst's messages rather than one pass (and its handful of store statements) per message;
        // with work still waiting, the next pass runs at once
        await new Promise<void>((resolve) =>
          idle ? setTimeout(resolve, GATHER_MS) : setImmediate(resolve),
        );
        const busy = await this.round();
        failures = 0;
        idle = !busy;
        if (idle) await this.wakeup.sleep(this.options.pollMs);
      } catch (err) {
        // the store is unreachable or busy: back off, keep trying (the messages wait in the outbox)
        failures++;
        this.options.log?.(
          `messaging: consumer ${this.consumer.name} could not reach the store`,
          err,
        );
        await this.wakeup.sleep(Math.min(this.options.pollMs * 2 ** failures, 30_000));
      }
    }
  }

  /** One pass; true when it did something (so the next pass runs at once). */
  private async round(): Promise<boolean> {
    const moved = this.options.pump
      ? await this.store.enqueueDeliveries(this.consumer.name, this.consumer.wants, PAGE)
      : 0;
    if (this.stopping) return false;
    const claimed = await this.store.claimDeliveries(
      this.consumer.name,
      this.options.holder,
      CLAIM,
      this.leaseMs,
    );
    // a short page means the outbox is drained: the next commit wakes this worker, a timer finds other nodes' work
    if (claimed.length === 0) return moved >= PAGE;
    // each delivery's span (tracing on) covers its handler and its settling, and their log lines
    const traces = claimed.map((m) => traceDelivery(this.consumer.name, m));
    // settle every handler before anything else, so stop() never returns with a handler running
    const outcomes = await Promise.all(claimed.map((m, i) => traces[i].run(() => this.handle(m))));
    // the successes are completed together: the store writes them in one transaction
    const settled = await Promise.allSettled(
      claimed.map((m, i) =>
        traces[i].run<boolean | void>(() =>
          outcomes[i] === undefined
            ? this.store.completeDelivery(this.consumer.name, m)
            : this.fail(m, outcomes[i]!.err),
        ),
      ),
    );
    traces.forEach((t, i) => t.end(outcomes[i]?.err));
    // a completion that found the delivery already finished (false) was not a delivery of ours
    for (const [i, r] of settled.entries())
      if (outcomes[i] === undefined && r.status === 'fulfilled' && r.value === true)
        this.options.outcomes?.delivered(this.consumer.name, 'done');
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return true;
  }

  /** Runs the handler; the error it threw, if it did. */
  private async handle(message: DeliveredMessage): Promise<{ err: unknown } | undefined> {
    // a long handler keeps its lease, so no other node takes the delivery meanwhile
    const renewal = setInterval(() => {
      this.store
        .renewDelivery(this.consumer.name, message.id, this.options.holder, this.leaseMs)
        .catch(() => {});
    }, this.leaseMs / 3);
    try {
      await this.consumer.handler(message);
      return undefined;
    } catch (err) {
      return { err };
    } finally {
      clearInterval(renewal);
    }
  }

  private async fail(message: DeliveredMessage, err: unknown): Promise<void> {
    const error = describeError(err);
    if (message.attempt >= this.consumer.maxAttempts) {
      if (await this.store.deadLetter(this.consumer.name, message, error))
        this.options.outcomes?.delivered(this.consumer.name, 'dead');
      this.options.log?.(
        `messaging: ${this.consumer.name} dead-lettered message ${message.id} after ${message.attempt} attempts`,
        err,
      );
    } else {
      await this.store.retryDelivery(
        this.consumer.name,
        message.id,
        error,
        Date.now() + retryDelay(this.consumer, message.attempt),
      );
      this.options.outcomes?.delivered(this.consumer.name, 'retry');
    }
  }
}
