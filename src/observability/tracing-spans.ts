import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';

/**
 * The spans product code makes, over @opentelemetry/api only (the SDK is loaded by tracing.ts, and
 * only when tracing is configured). While tracing is off there is no tracer here and every helper
 * runs its work directly: no span object, no context switch.
 *
 * Types are structural so the store and the messaging layer can call these without this folder
 * importing them.
 */

let tracer: Tracer | undefined;

/** Set by startTracing once its provider is registered, cleared by its shutdown. */
export function setTracingActive(active: boolean): void {
  tracer = active ? trace.getTracer('openspine') : undefined;
}

/** The tracer while tracing is on. */
export function activeTracer(): Tracer | undefined {
  return tracer;
}

/** The active span's trace id, or undefined (tracing off, or no span). */
export function currentTraceId(): string | undefined {
  if (!tracer) return undefined;
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && trace.isSpanContextValid(ctx) ? ctx.traceId : undefined;
}

/** pino mixin: every log line written inside a span carries its trace and span ids. */
export function traceLogMixin(): Record<string, string> {
  const span = tracer && trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/** The W3C traceparent of a span (https://www.w3.org/TR/trace-context/#traceparent-header). */
function traceparentOf(span: Span): string | undefined {
  const c = span.spanContext();
  if (!trace.isSpanContextValid(c)) return undefined;
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** The context a W3C traceparent names (the root context when there is none). */
function contextOf(traceparent: string | undefined): Context {
  return traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;
}

function failed(span: Span, err: unknown): void {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
}

interface CommitBatch {
  resources?: readonly unknown[];
  audit?: readonly unknown[];
  messages?: readonly { traceparent?: string }[];
}

/**
 * Runs one store commit in an `openspine.store.commit` span. Outbox messages of the batch that have
 * no trace context yet are stamped with the commit span's, so the message carries the trace across
 * the bus (the one place messages get their traceparent).
 */
export function traceCommit<B extends CommitBatch, T>(
  store: string,
  batch: B,
  commit: (batch: B) => Promise<T>,
): Promise<T> {
  if (!tracer) return commit(batch);
  const size =
    (batch.resources?.length ?? 0) + (batch.audit?.length ?? 0) + (batch.messages?.length ?? 0);
  return tracer.startActiveSpan(
    'openspine.store.commit',
    {
      kind: SpanKind.INTERNAL,
      attributes: { 'openspine.store': store, 'openspine.store.batch_size': size },
    },
    async (span) => {
      const traceparent = traceparentOf(span);
      const stamped =
        traceparent && batch.messages?.some((m) => !m.traceparent)
          ? {
              ...batch,
              messages: batch.messages.map((m) => (m.traceparent ? m : { ...m, traceparent })),
            }
          : batch;
      try {
        return await commit(stamped);
      } catch (err) {
        failed(span, err);
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

interface BusMessage {
  id: string;
  topic: string;
  traceparent?: string;
}

/**
 * Publishes one outbox message in an `openspine.bus.publish` PRODUCER span whose parent is the
 * message's stored trace context; `publish` gets the traceparent to send as a header (the
 * publish span's own), or undefined for a message that carries no trace.
 */
export async function tracePublish<T>(
  destination: string,
  message: BusMessage,
  publish: (traceparent: string | undefined) => Promise<T>,
): Promise<T> {
  if (!tracer || !message.traceparent) return publish(undefined);
  const span = tracer.startSpan(
    'openspine.bus.publish',
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.operation.type': 'send',
        'messaging.destination.name': destination,
        'messaging.message.id': message.id,
        'openspine.topic': message.topic,
      },
    },
    contextOf(message.traceparent),
  );
  try {
    return await publish(traceparentOf(span));
  } catch (err) {
    failed(span, err);
    throw err;
  } finally {
    span.end();
  }
}

/** One delivery's span: `run` runs work inside it (handler, then settling), `end` closes it. */
export interface DeliveryTrace {
  run<T>(work: () => Promise<T>): Promise<T>;
  end(err?: unknown): void;
}

const UNTRACED: DeliveryTrace = { run: (work) => work(), end: () => {} };

/**
 * The CONSUMER span `openspine.bus.deliver <topic>` of one delivery to one consumer, a child of the
 * trace context the message carries (a new trace when it carries none).
 */
export function traceDelivery(
  consumer: string,
  message: BusMessage & { attempt: number },
): DeliveryTrace {
  if (!tracer) return UNTRACED;
  const parent = contextOf(message.traceparent);
  const span = tracer.startSpan(
    `openspine.bus.deliver ${message.topic}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.operation.type': 'process',
        'messaging.consumer.group.name': consumer,
        'messaging.destination.name': message.topic,
        'messaging.message.id': message.id,
        'openspine.delivery.attempt': message.attempt,
      },
    },
    parent,
  );
  const inSpan = trace.setSpan(parent, span);
  return {
    run: (work) => context.with(inSpan, work),
    end(err) {
      if (err !== undefined) failed(span, err);
      span.end();
    },
  };
}
