import type { FastifyInstance } from 'fastify';
import type { Repository } from '../../store/types.js';
import { dispensingRoutes } from './dispensing-routes.js';
import { epsApi } from './capability.js';
import { registerMetadataRoute } from '../../fhir/metadata-route.js';
import { sweepPrescriptions } from './expiry-sweep.js';
import { prescribingRoutes } from './prescribing-routes.js';
import { trackerRoutes } from './tracker-routes.js';
import { verifySignatureRoutes } from './verify-signature.js';

export const EPS_BASE = '/electronic-prescriptions/FHIR/R4';
/** How often the cluster-wide sweep (one node, by lease) expires and releases issues by date. */
export const SWEEP_INTERVAL_MS = 60_000;

/** The Electronic Prescription Service: prescribing, dispensing and the tracker (docs/eps.md). */
export function epsRoutes(repo: Repository, publicUrl: string) {
  const baseUrl = publicUrl + EPS_BASE;
  return async function plugin(app: FastifyInstance): Promise<void> {
    registerMetadataRoute(app, epsApi(EPS_BASE, publicUrl));
    await app.register(prescribingRoutes(repo, baseUrl));
    await app.register(dispensingRoutes(repo, baseUrl));
    await app.register(trackerRoutes(repo, baseUrl));
    await app.register(verifySignatureRoutes(repo));
    app.scheduler.every('eps.expiry-sweep', SWEEP_INTERVAL_MS, async () => {
      const { expired, available } = await sweepPrescriptions(repo, new Date());
      if (expired || available) app.log.info({ expired, available }, 'eps sweep');
    });
  };
}
