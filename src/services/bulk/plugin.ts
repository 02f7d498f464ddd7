import type { ServicePlugin } from '../service-deps.js';
import { BULK_BASE, bulkRoutes } from './routes.js';

/**
 * FHIR Bulk Data (docs/bulk.md): its route table under BULK_BASE. An export runs in the background
 * of the node that accepted (or is polled for) it, started by its route, not by a schedule; so
 * there are no bus consumers or scheduled jobs to register here.
 */
export const bulkPlugin: ServicePlugin = async (app, deps) => {
  await app.register(bulkRoutes(deps), { prefix: BULK_BASE });
};
