import { randomUUID } from 'node:crypto';
import type { MessageStore } from '../../store/message-store.js';
import { ConsumerRegistry } from '../consumer-registry.js';
import { DeliveryOutcomes } from '../delivery-outcomes.js';
import { DeliveryWorker } from '../delivery-worker.js';
import type {
  BusStatus,
  ConsumerOptions,
  DeliveryObserver,
  MessageBus,
  MessageHandler,
} from '../types.js';

const SWEEP_PAGE = 10_000;

export interface EmbeddedBusOptions {
  nodeId: string;
  pollMs: number;
  /** How long a claimed delivery stays with this node (default 60 s). */
  leaseMs?: number;
  log?: (message: string, err?: unknown) => void;
}

/**
 * The bus in the store itself: each consumer reads the outbox through its own cursor and delivery
 * rows, so several processes over one store share the work and each message is handled once per
 * consumer name. A commit in this process wakes the consumers at once; other processes' commits and
 * due retries are found by polling.
 */
export class EmbeddedBus implements MessageBus {
  readonly kind = 'embedded' as const;
  private readonly registry = new ConsumerRegistry();
  private readonly workers: DeliveryWorker[] = [];
  private unsubscribe: (() => void) | undefined;
  private readonly holder: string;
  private stopped = false;
  private readonly outcomes = new DeliveryOutcomes();

  constructor(
    private readonly store: MessageStore,
    private readonly options: EmbeddedBusOptions,
  ) {
    this.holder = `${options.nodeId}/${randomUUID().slice(0, 8)}`;
  }

  consume(options: ConsumerOptions, handler: MessageHandler): void {
    this.registry.add(options, handler);
  }

  observeDeliveries(observer: DeliveryObserver): () => void {
    return this.outcomes.add(observer);
  }

  async start(): Promise<void> {
    if (this.unsubscribe) return;
    this.registry.close();
    for (const consumer of this.registry.all) {
      this.workers.push(
        new DeliveryWorker(this.store, consumer, {
          holder: this.holder,
          pollMs: this.options.pollMs,
          pump: true,
          leaseMs: this.options.leaseMs,
          log: this.options.log,
          outcomes: this.outcomes,
        }),
      );
    }
    this.unsubscribe = this.store.onCommitted(() => this.workers.forEach((w) => w.wake()));
    this.workers.forEach((w) => w.start());
  }

  sweep(retentionMs: number): Promise<{ outbox: number; deliveries: number }> {
    const before = new Date(Date.now() - retentionMs).toISOString();
    return this.store.sweep({
      before,
      consumers: this.registry.all.map((c) => c.name),
      requireRelayed: false,
      limit: SWEEP_PAGE,
    });
  }

  /** The store is the transport: the bus is connected while it runs (the store's own check is apart). */
  status(): BusStatus {
    const running = this.unsubscribe !== undefined && !this.stopped;
    return {
      kind: this.kind,
      nodeId: this.options.nodeId,
      running,
      connected: running,
      consumers: this.registry.all.map((c) => c.name),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
