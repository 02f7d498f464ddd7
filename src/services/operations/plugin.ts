import type { ServicePlugin } from '../service-deps.js';
import { operationsRoutes } from './routes.js';
import { scrapeSources } from './scrape-sources.js';

/**
 * Operations: GET /metrics at the root (Prometheus). The scrape reads the store, the bus and the
 * readiness checks through scrape-sources.ts. No bus consumers or jobs.
 */
export const operationsPlugin: ServicePlugin = async (app, deps) => {
  deps.metrics?.scrapeFrom(scrapeSources(deps));
  await app.register(operationsRoutes(deps));
};
