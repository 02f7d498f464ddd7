import type { FastifyInstance } from 'fastify';
import type { ServiceDeps } from '../service-deps.js';
import { platformStatus } from './status-service.js';

/**
 * The platform's detailed status for operators (activity messaging.admin; never public: the public
 * /_status says only pass or fail): store, bus, audit signer, queue depths, dead letters, node.
 * Plain JSON (docs/messaging.md); each look is audited.
 */
export function statusRoutes(deps: Pick<ServiceDeps, 'store' | 'bus' | 'config' | 'startedAt'>) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get(
      '/status',
      { config: { fhirApi: true, activity: 'messaging.admin' } },
      async (req, reply) =>
        reply.header('cache-control', 'no-store').send(await platformStatus(deps, req.ctx)),
    );
  };
}
