import type { ServicePlugin } from '../service-deps.js';
import { healthRoutes } from './routes.js';

/** Unauthenticated health endpoints (/_ping, /_status) at the root. No bus consumers or jobs. */
export const healthPlugin: ServicePlugin = async (app, deps) => {
  await app.register(healthRoutes(deps));
};
