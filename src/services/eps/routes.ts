import type { FastifyInstance } from 'fastify';
import type { ServiceDeps } from '../service-deps.js';
import { dispensingRoutes } from './dispensing-routes.js';
import { epsApi } from './capability.js';
import { registerMetadataRoute } from '../../fhir/metadata-route.js';
import { prescribingRoutes } from './prescribing-routes.js';
import { trackerRoutes } from './tracker-routes.js';
import { verifySignatureRoutes } from './verify-signature.js';

export const EPS_BASE = '/electronic-prescriptions/FHIR/R4';

/**
 * The Electronic Prescription Service's route tables: prescribing, dispensing and the tracker
 * (docs/eps.md). The expiry sweep is registered in plugin.ts.
 */
export function epsRoutes({ store: repo, publicUrl }: Pick<ServiceDeps, 'store' | 'publicUrl'>) {
  const baseUrl = publicUrl + EPS_BASE;
  return async function plugin(app: FastifyInstance): Promise<void> {
    registerMetadataRoute(app, epsApi(EPS_BASE, publicUrl));
    await app.register(prescribingRoutes(repo, baseUrl));
    await app.register(dispensingRoutes(repo, baseUrl));
    await app.register(trackerRoutes(repo, baseUrl));
    await app.register(verifySignatureRoutes(repo));
  };
}
