import { headers, type JetStreamClient, type MsgHdrs } from 'nats';
import { tracePublish } from '../../observability/tracing-spans.js';
import type { MessageStore } from '../../store/message-store.js';
import { Wakeup } from '../wakeup.js';
import { partitionOf, subjectOf } from './subjects.js';

export interface RelayOptions {
  stream: string;
  partitions: number;
  holder: string;
  pollMs: number;
  /** Lease on the relay: one node relays at a time (default 10 s). */
  leaseMs?: number;
  log?: (message: string, err?: unknown) => void;
}

const RELAY_LEASE = 'messaging.relay';

/** The W3C trace-context header a consumer continues the trace from (partition-consumer.ts). */
function traceHeaders(traceparent: string): MsgHdrs {
  const h = headers();
  h.set('traceparent', traceparent);
  return h;
}
const BATCH = 256;

/**
 * Publishes committed outbox rows to JetStream in outbox order and marks them relayed. Each message
 * carries its id as Nats-Msg-Id, so a row published again (a relay that died before marking it, a
 * lease that changed hands mid-batch) is dropped by the stream's duplicate window. While NATS is
 * unreachable the rows simply wait in the outbox and the relay retries with backoff.
 */
export class OutboxRelay {
  private readonly wakeup = new Wakeup();
  private running: Promise<void> | undefined;
  private stopping = false;
  private js: JetStreamClient | undefined;

  constructor(
    private readonly store: MessageStore,
    private readonly options: RelayOptions,
  ) {}

  start(): void {
    this.running ??= this.loop();
  }

  /** Called once a JetStream client is ready (after the connection and the stream exist). */
  attach(js: JetStreamClient): void {
    this.js = js;
    this.wakeup.wake();
  }

  wake(): void {
    this.wakeup.wake();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeup.wake();
    await this.running;
    await this.store.releaseLease(RELAY_LEASE, this.options.holder).catch(() => {});
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      let busy = false;
      try {
        busy = await this.round();
        failures = 0;
      } catch (err) {
        if (failures === 0)
          this.options.log?.('messaging: outbox relay failed; retrying with backoff', err);
        failures++;
      }
      if (this.stopping) break;
      if (failures) await this.wakeup.sleep(Math.min(this.options.pollMs * 2 ** failures, 5000));
      else if (!busy) await this.wakeup.sleep(this.options.pollMs);
    }
  }

  /** Relays one batch; true when it relayed something. */
  private async round(): Promise<boolean> {
    const js = this.js;
    if (!js) return false;
    if (
      !(await this.store.tryAcquireLease(
        RELAY_LEASE,
        this.options.holder,
        this.options.leaseMs ?? 10_000,
      ))
    )
      return false;
    const rows = await this.store.unrelayed(BATCH);
    if (rows.length === 0) return false;
    // Partitions are published side by side, each in outbox order and one at a time: a failed
    // publish stops its partition there, so a later message of a key is never stored before an
    // earlier one. What was stored is marked; the rest is tried again.
    const byPartition = new Map<number, typeof rows>();
    for (const m of rows) {
      const p = partitionOf(m.key, this.options.partitions);
      byPartition.set(p, [...(byPartition.get(p) ?? []), m]);
    }
    const relayed: number[] = [];
    const failures: unknown[] = [];
    await Promise.all(
      [...byPartition].map(async ([partition, messages]) => {
        for (const m of messages) {
          const subject = subjectOf(this.options.stream, partition, m.topic);
          try {
            // a traced message (tracing on) goes in a publish span, its context as a header
            await tracePublish(subject, m, (traceparent) =>
              js.publish(subject, JSON.stringify(m), {
                msgID: m.id,
                timeout: 5000,
                ...(traceparent ? { headers: traceHeaders(traceparent) } : {}),
              }),
            );
          } catch (err) {
            failures.push(err);
            return;
          }
          relayed.push(m.seq);
        }
      }),
    );
    if (relayed.length) await this.store.markRelayed(relayed);
    if (failures.length) throw failures[0];
    return true;
  }
}
