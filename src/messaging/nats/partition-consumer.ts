import type { ConsumerMessages, JetStreamClient, JsMsg } from 'nats';
import type { MessageStore, OutboxRecord } from '../../store/message-store.js';
import { traceDelivery } from '../../observability/tracing-spans.js';
import { describeError, retryDelay, type Consumer } from '../consumer-registry.js';
import type { DeliveryObserver } from '../types.js';

export interface PartitionConsumerOptions {
  stream: string;
  durable: string;
  /** How often a running handler extends its ack deadline (a third of ack_wait). */
  workingEveryMs: number;
  log?: (message: string, err?: unknown) => void;
  /** Told how each delivery ends (the operations metrics). */
  outcomes?: DeliveryObserver;
}

/**
 * One node's reader of one durable (a consumer name's partition). The durable allows one message
 * unacknowledged, so the nodes reading it take its messages one at a time, in order. A message the
 * store records as finished for this consumer is acknowledged without running the handler (dedupe);
 * a failure is negatively acknowledged with the backoff delay; the last attempt goes to the
 * store's dead letters and is acknowledged, so the partition moves on.
 */
export class PartitionConsumer {
  private messages: ConsumerMessages | undefined;
  private stopping = false;

  constructor(
    private readonly consumer: Consumer,
    private readonly store: MessageStore,
    private readonly options: PartitionConsumerOptions,
  ) {}

  async run(js: JetStreamClient): Promise<void> {
    while (!this.stopping) {
      try {
        const c = await js.consumers.get(this.options.stream, this.options.durable);
        this.messages = await c.consume({ max_messages: 8 });
        if (this.stopping) this.messages.stop();
        for await (const m of this.messages) await this.handle(m);
      } catch (err) {
        if (!this.stopping)
          this.options.log?.(`messaging: reading ${this.options.durable} failed; retrying`, err);
        if (!this.stopping) await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  stop(): void {
    this.stopping = true;
    this.messages?.stop();
  }

  private async handle(m: JsMsg): Promise<void> {
    let record: OutboxRecord;
    try {
      record = JSON.parse(m.string()) as OutboxRecord;
    } catch {
      m.term('not an outbox message');
      return;
    }
    if (!this.consumer.wants(record.topic)) {
      m.ack();
      return;
    }
    const attempt = m.info.deliveryCount;
    try {
      const state = await this.store.deliveryState(this.consumer.name, record.id);
      if (state === 'done' || state === 'dead') {
        m.ack();
        return;
      }
    } catch (err) {
      // the store is unreachable: leave the message with NATS and look again shortly
      m.nak(1000);
      this.options.log?.(
        `messaging: store unreachable while delivering to ${this.consumer.name}`,
        err,
      );
      return;
    }
    // the trace context travels as a header (set by the outbox relay's publish span)
    const traceparent = m.headers?.get('traceparent');
    const message = { ...record, attempt, ...(traceparent ? { traceparent } : {}) };
    const delivery = traceDelivery(this.consumer.name, message);
    let err: unknown;
    try {
      err = await delivery.run(() => this.deliver(m, record, message));
    } finally {
      delivery.end(err);
    }
  }

  /** Runs the handler and settles the message; the handler's error, if it threw. */
  private async deliver(
    m: JsMsg,
    record: OutboxRecord,
    message: OutboxRecord & { attempt: number },
  ): Promise<unknown> {
    // a long handler tells JetStream it is still working, so the message is not redelivered meanwhile
    const heartbeat = setInterval(() => m.working(), this.options.workingEveryMs);
    try {
      await this.consumer.handler(message);
    } catch (err) {
      await this.failed(m, message, err);
      return err;
    } finally {
      clearInterval(heartbeat);
    }
    try {
      const completed = await this.store.completeDelivery(this.consumer.name, record);
      m.ack();
      if (completed) this.options.outcomes?.delivered(this.consumer.name, 'done');
    } catch (err) {
      // handled but not recorded: redelivery runs the (idempotent) handler again
      m.nak(1000);
      this.options.log?.(
        `messaging: could not record delivery of ${record.id} to ${this.consumer.name}`,
        err,
      );
    }
    return undefined;
  }

  private async failed(
    m: JsMsg,
    message: OutboxRecord & { attempt: number },
    err: unknown,
  ): Promise<void> {
    if (message.attempt < this.consumer.maxAttempts) {
      m.nak(retryDelay(this.consumer, message.attempt));
      this.options.outcomes?.delivered(this.consumer.name, 'retry');
      return;
    }
    try {
      if (await this.store.deadLetter(this.consumer.name, message, describeError(err)))
        this.options.outcomes?.delivered(this.consumer.name, 'dead');
      this.options.log?.(
        `messaging: ${this.consumer.name} dead-lettered message ${message.id} after ${message.attempt} attempts`,
        err,
      );
      m.ack();
    } catch (storeErr) {
      m.nak(1000);
      this.options.log?.(
        `messaging: could not dead-letter ${message.id} for ${this.consumer.name}`,
        storeErr,
      );
    }
  }
}
