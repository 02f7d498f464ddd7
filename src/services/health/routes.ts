import type { FastifyInstance } from 'fastify';
import type { ServiceDeps } from '../service-deps.js';

/** Unauthenticated health endpoints for load balancers and operators. */
export function healthRoutes({ store: repo, startedAt }: Pick<ServiceDeps, 'store' | 'startedAt'>) {
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
  };
}
