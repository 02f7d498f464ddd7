import type {
  FastifyInstance,
  FastifyRequest,
  onRequestAbortHookHandler,
  onRequestHookHandler,
  onResponseHookHandler,
} from 'fastify';
import type { Counter, Histogram } from 'prom-client';
import type { PlatformMetrics } from './metrics.js';

/** The route label of a request no route matched (Fastify's not-found handler): one series, not one per path. */
export const UNMATCHED_ROUTE = 'unmatched';

const COUNTED = Symbol('openspine.metricsInFlight');
type CountedRequest = FastifyRequest & { [COUNTED]?: boolean };

interface RouteSeries {
  requests: Counter.Internal;
  duration: Histogram.Internal<'route' | 'method' | 'status_class'>;
}

/**
 * Counts every request by route pattern (request.routeOptions.url, never the path itself), method
 * and status class, times it (Fastify's reply.elapsedTime, from arrival to the response sent), and
 * tracks requests in flight and the server's open connections. Callback-style hooks and labelled
 * children cached per route, method and class: a request costs two map lookups and three number
 * updates. Registered on the root instance by buildApp only when metrics are on.
 */
export function registerHttpMetrics(app: FastifyInstance, metrics: PlatformMetrics): void {
  const series = new Map<string, RouteSeries>();
  const seriesOf = (route: string, method: string, statusClass: string): RouteSeries => {
    const key = `${method} ${statusClass} ${route}`;
    let s = series.get(key);
    if (!s) {
      s = {
        requests: metrics.httpRequests.labels(route, method, statusClass),
        duration: metrics.httpDuration.labels(route, method, statusClass),
      };
      series.set(key, s);
    }
    return s;
  };

  // named, so `app.printRoutes({ includeHooks: true })` shows them (the --metrics off test looks)
  const leaveInFlight = (request: CountedRequest) => {
    if (!request[COUNTED]) return;
    request[COUNTED] = false;
    metrics.inFlight.dec();
  };
  const metricsRequestStart: onRequestHookHandler = (request: CountedRequest, _reply, done) => {
    request[COUNTED] = true;
    metrics.inFlight.inc();
    done();
  };
  // a request the client abandoned may never reach onResponse: it leaves the in-flight count here
  const metricsRequestAbort: onRequestAbortHookHandler = (request, done) => {
    leaveInFlight(request);
    done();
  };
  const metricsResponse: onResponseHookHandler = (request, reply, done) => {
    leaveInFlight(request);
    const route = request.routeOptions.url ?? UNMATCHED_ROUTE;
    const s = seriesOf(route, request.method, `${Math.floor(reply.statusCode / 100)}xx`);
    s.requests.inc();
    s.duration.observe(reply.elapsedTime / 1000);
    done();
  };
  app.addHook('onRequest', metricsRequestStart);
  app.addHook('onRequestAbort', metricsRequestAbort);
  app.addHook('onResponse', metricsResponse);

  app.server.on('connection', (socket) => {
    metrics.openConnections.inc();
    socket.once('close', () => metrics.openConnections.dec());
  });
}
