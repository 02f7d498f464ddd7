import type { FastifyInstance } from 'fastify';
import type { ServiceDeps } from '../service-deps.js';

/** Unauthenticated health endpoints for load balancers and operators. */
export function healthRoutes({
  store: repo,
  startedAt,
  readiness,
}: Pick<ServiceDeps, 'store' | 'startedAt' | 'readiness'>) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/_ping', { config: { public: true } }, async () => ({
      status: 'pass',
      ping: 'pong',
    }));
    app.get('/_status', { config: { public: true } }, async (_req, reply) => {
      try {
        const patients = await repo.count('Patient');
        return {
          status: 'pass',
          store: repo.kind,
          patients,
          uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
        };
      } catch {
        return reply.code(503).send({ status: 'fail', store: repo.kind });
      }
    });
    // liveness: the process runs and its event loop answers; nothing else (a restart would not
    // bring a stopped database back, so the store is readiness's business, not liveness's)
    app.get('/_status/live', { config: { public: true } }, async (_req, reply) => {
      reply.header('cache-control', 'no-store');
      return { status: 'pass' };
    });
    // readiness: whether a load balancer should send this node traffic (src/observability/readiness.ts)
    app.get('/_status/ready', { config: { public: true } }, async (_req, reply) => {
      const report = await readiness.check();
      return reply
        .header('cache-control', 'no-store')
        .code(report.status === 'pass' ? 200 : 503)
        .send(report);
    });
  };
}
