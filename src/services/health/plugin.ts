import type { ServicePlugin } from '../service-deps.js';
import { registerReadyChecks } from './ready-checks.js';
import { healthRoutes } from './routes.js';

/**
 * Unauthenticated health endpoints (/_ping, /_status, /_status/live, /_status/ready) at the root,
 * and the readiness checks of the store, its schema and the bus. No bus consumers or jobs.
 */
export const healthPlugin: ServicePlugin = async (app, deps) => {
  registerReadyChecks(deps.readiness, deps);
  await app.register(healthRoutes(deps));
};
