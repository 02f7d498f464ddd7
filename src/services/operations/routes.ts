import type { FastifyInstance } from 'fastify';
import { FhirError } from '../../fhir/errors.js';
import type { ServiceDeps } from '../service-deps.js';
import { scrapeTokenCheck } from './scrape-token.js';

/** Prometheus' conventional path, at the root beside /_ping and /_status. */
export const METRICS_PATH = '/metrics';

/**
 * Prometheus metrics in the text exposition format. Never open: a token whose role allows
 * operations.metrics (R8015 Systems Support), or the configured scrape token, which this route alone
 * accepts. With `--metrics off` nothing is collected and the route answers 404 saying so.
 */
export function operationsRoutes({ metrics, config }: Pick<ServiceDeps, 'metrics' | 'config'>) {
  const alsoAdmits = metrics ? scrapeTokenCheck(config.metrics.scrapeToken) : undefined;
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get(
      METRICS_PATH,
      { config: { activity: 'operations.metrics', ...(alsoAdmits ? { alsoAdmits } : {}) } },
      async (_req, reply) => {
        if (!metrics)
          throw new FhirError(
            404,
            'RESOURCE_NOT_FOUND',
            'Metrics are switched off on this node (--metrics off)',
          );
        const { contentType, body } = await metrics.render();
        return reply.header('cache-control', 'no-store').type(contentType).send(body);
      },
    );
  };
}
