import type { ServicePlugin } from '../service-deps.js';
import { birthDetailsRoutes } from './birth-details-routes.js';
import { coverageRoutes } from './coverage-routes.js';
import { PDS_BASE } from './base-path.js';
import { pdsRoutes } from './routes.js';

/**
 * The Personal Demographics Service (docs/pds.md): its three route tables (Patient, Coverage and
 * $process-birth-details), each in its own scope under PDS_BASE so each keeps its own published
 * refusals. PDS has no bus consumers or jobs: it only publishes (through the outbox).
 */
export const pdsPlugin: ServicePlugin = async (app, deps) => {
  await app.register(pdsRoutes(deps), { prefix: PDS_BASE });
  await app.register(coverageRoutes(deps), { prefix: PDS_BASE });
  await app.register(birthDetailsRoutes(deps), { prefix: PDS_BASE });
};
