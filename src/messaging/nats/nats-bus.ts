import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  nanos,
  type JetStreamManager,
  type NatsConnection,
} from 'nats';
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
import { Wakeup } from '../wakeup.js';
import { connectWithRetry } from './connection.js';
import { OutboxRelay } from './outbox-relay.js';
import { PartitionConsumer } from './partition-consumer.js';
import { durableName, partitionFilter, subjectPrefix } from './subjects.js';

export interface NatsBusOptions {
  url: string;
  /** Stream name; subjects are '<stream in lower case>.<partition>.<topic>'. */
  stream: string;
  nodeId: string;
  /** How often the relay and the replay workers poll the store. */
  pollMs: number;
  /** Key partitions (default 8): the unit of ordering and of parallelism per consumer name. */
  partitions?: number;
  /** How long JetStream waits for an acknowledgement before redelivering (a node died mid-message; default 30 s). */
  ackWaitMs?: number;
  /** How long the stream keeps messages (default 7 days). */
  maxAgeMs?: number;
  log?: (message: string, err?: unknown) => void;
}

/**
 * The bus for several nodes: the outbox relay (on one node at a time) publishes committed messages
 * to a JetStream stream; every node reads every consumer's durables, and JetStream hands each
 * message to one of them. Dedupe, dead letters and replays live in the store, shared with the
 * embedded bus, so one API and CLI serve both; a replayed dead letter is delivered from the store.
 */
export class NatsBus implements MessageBus {
  readonly kind = 'nats' as const;
  private readonly registry = new ConsumerRegistry();
  private readonly holder: string;
  private readonly partitions: number;
  private readonly relay: OutboxRelay;
  private readonly replays: DeliveryWorker[] = [];
  private readonly readers: PartitionConsumer[] = [];
  private readonly running: Promise<void>[] = [];
  private readonly wakeup = new Wakeup();
  private nc: NatsConnection | null = null;
  private unsubscribe: (() => void) | undefined;
  private stopping = false;
  private started = false;
  /** The stream and durables are declared: the bus reads. */
  private declared = false;
  private readonly ackWaitMs: number;
  private readonly outcomes = new DeliveryOutcomes();

  constructor(
    private readonly store: MessageStore,
    private readonly options: NatsBusOptions,
  ) {
    this.holder = `${options.nodeId}/${randomUUID().slice(0, 8)}`;
    this.partitions = options.partitions ?? 8;
    this.ackWaitMs = options.ackWaitMs ?? 30_000;
    this.relay = new OutboxRelay(store, {
      stream: options.stream,
      partitions: this.partitions,
      holder: this.holder,
      pollMs: options.pollMs,
      log: options.log,
    });
  }

  consume(options: ConsumerOptions, handler: MessageHandler): void {
    this.registry.add(options, handler);
  }

  observeDeliveries(observer: DeliveryObserver): () => void {
    return this.outcomes.add(observer);
  }

  /** Returns at once: connecting, creating the stream and consumers go on in the background until NATS answers. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.registry.close();
    this.unsubscribe = this.store.onCommitted(() => {
      this.relay.wake();
      this.replays.forEach((w) => w.wake());
    });
    this.relay.start();
    for (const consumer of this.registry.all) {
      const worker = new DeliveryWorker(this.store, consumer, {
        holder: this.holder,
        pollMs: this.options.pollMs,
        pump: false,
        log: this.options.log,
        outcomes: this.outcomes,
      });
      this.replays.push(worker);
      worker.start();
    }
    this.running.push(this.connectAndRead());
  }

  sweep(retentionMs: number): Promise<{ outbox: number; deliveries: number }> {
    const before = new Date(Date.now() - retentionMs).toISOString();
    return this.store.sweep({
      before,
      consumers: this.registry.all.map((c) => c.name),
      requireRelayed: true,
      limit: 10_000,
    });
  }

  /** Connected: a live connection to NATS, and the stream and durables declared (reading). */
  status(): BusStatus {
    const nc = this.nc as (NatsConnection & { protocol?: { connected?: boolean } }) | null;
    const live = !!nc && !nc.isClosed() && nc.protocol?.connected !== false;
    return {
      kind: this.kind,
      nodeId: this.options.nodeId,
      running: this.started && !this.stopping,
      connected: live && this.declared,
      consumers: this.registry.all.map((c) => c.name),
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    this.wakeup.wake();
    this.readers.forEach((r) => r.stop());
    await Promise.all([this.relay.stop(), ...this.replays.map((w) => w.stop()), ...this.running]);
    await this.nc?.drain().catch(() => this.nc?.close());
  }

  private async connectAndRead(): Promise<void> {
    const nc = await connectWithRetry(
      { url: this.options.url, name: this.options.nodeId },
      () => this.stopping,
      this.wakeup,
      this.options.log,
    );
    if (!nc) return;
    this.nc = nc;
    for (let failures = 0; !this.stopping; failures++) {
      try {
        await this.declare(await nc.jetstreamManager());
        this.declared = true;
        break;
      } catch (err) {
        if (failures === 0)
          this.options.log?.('messaging: cannot declare the JetStream stream yet; retrying', err);
        await this.wakeup.sleep(Math.min(250 * 2 ** failures, 5000));
      }
    }
    if (this.stopping) return;
    const js = nc.jetstream();
    this.relay.attach(js);
    for (const consumer of this.registry.all) {
      for (let p = 0; p < this.partitions; p++) {
        const reader = new PartitionConsumer(consumer, this.store, {
          stream: this.options.stream,
          durable: durableName(consumer.name, p),
          workingEveryMs: Math.max(1000, this.ackWaitMs / 3),
          log: this.options.log,
          outcomes: this.outcomes,
        });
        this.readers.push(reader);
        this.running.push(reader.run(js));
      }
    }
  }

  /** The stream and every durable (idempotent: every node declares the same configuration). */
  private async declare(jsm: JetStreamManager): Promise<void> {
    const stream = this.options.stream;
    try {
      await jsm.streams.info(stream);
    } catch {
      await jsm.streams
        .add({
          name: stream,
          subjects: [`${subjectPrefix(stream)}.>`],
          storage: StorageType.File,
          retention: RetentionPolicy.Limits,
          duplicate_window: nanos(120_000),
          max_age: nanos(this.options.maxAgeMs ?? 7 * 86_400_000),
        })
        .catch(async (err) => {
          await jsm.streams.info(stream).catch(() => {
            throw err;
          }); // another node created it meanwhile
        });
    }
    for (const consumer of this.registry.all) {
      for (let p = 0; p < this.partitions; p++) {
        const durable = durableName(consumer.name, p);
        await jsm.consumers
          .add(stream, {
            durable_name: durable,
            ack_policy: AckPolicy.Explicit,
            deliver_policy: DeliverPolicy.All,
            filter_subject: partitionFilter(stream, p),
            max_ack_pending: 1,
            max_deliver: -1,
            ack_wait: nanos(this.ackWaitMs),
          })
          .catch(async (err) => {
            await jsm.consumers.info(stream, durable).catch(() => {
              throw err;
            });
          });
      }
    }
  }
}
