import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Span,
} from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { activeTracer } from './tracing-spans.js';

const SPAN = Symbol('openspine.serverSpan');
type TracedRequest = FastifyRequest & { [SPAN]?: Span };

/**
 * One SERVER span per HTTP request, a child of the caller's W3C traceparent when it sent one. The
 * rest of the request (hooks, handler, store commits, log lines) runs with the span active, so its
 * trace id reaches the request context, the audit entries and the log. Register before the other
 * hooks (buildApp does, only when tracing is configured).
 *
 * Two hooks rather than @fastify/otel: that plugin also makes a span for every route hook and
 * handler of every request (its README), and leaves the incoming context to instrumentation-http;
 * one span per request is what an operator follows. Measured on a bare Fastify route with seven
 * hooks (app.inject, CPU per request, 6 alternating rounds): no tracing 101 us, these hooks 140 us,
 * @fastify/otel 212 us with nine spans per request.
 */
export function registerServerSpans(app: FastifyInstance, nodeId: string): void {
  // callback style: an async hook costs a promise per request
  app.addHook('onRequest', (request, _reply, done) => {
    const tracer = activeTracer();
    if (!tracer) return done();
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const route = request.routeOptions.url;
    const correlationId = request.headers['x-correlation-id'];
    const span = tracer.startSpan(
      route ? `${request.method} ${route}` : request.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'url.path': request.url.split('?')[0],
          'openspine.node': nodeId,
          ...(route ? { 'http.route': route } : {}),
          ...(typeof correlationId === 'string'
            ? { 'openspine.correlation_id': correlationId }
            : {}),
        },
      },
      parent,
    );
    (request as TracedRequest)[SPAN] = span;
    context.with(trace.setSpan(parent, span), done);
  });
  app.addHook('onError', (request, _reply, err, done) => {
    (request as TracedRequest)[SPAN]?.recordException(err);
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    endSpan(request as TracedRequest, reply.statusCode);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    endSpan(request as TracedRequest, undefined);
    done();
  });
}

function endSpan(request: TracedRequest, status: number | undefined): void {
  const span = request[SPAN];
  if (!span) return;
  request[SPAN] = undefined;
  if (status === undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'request aborted by the client' });
  } else {
    span.setAttribute('http.response.status_code', status);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  }
  span.end();
}
