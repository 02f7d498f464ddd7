import type { ServicePlugin } from '../service-deps.js';
import { sweepPrescriptions } from './expiry-sweep.js';
import { EPS_BASE, epsRoutes } from './routes.js';

/** How often the cluster-wide sweep (one node, by lease) expires and releases issues by date. */
export const SWEEP_INTERVAL_MS = 60_000;
/** Name of the cluster-wide expiry job. */
export const EPS_SWEEP_JOB = 'eps.expiry-sweep';

/**
 * The Electronic Prescription Service (docs/eps.md): its route tables under EPS_BASE and the
 * cluster-wide expiry sweep.
 */
export const epsPlugin: ServicePlugin = async (app, deps) => {
  deps.scheduler.every(EPS_SWEEP_JOB, SWEEP_INTERVAL_MS, async () => {
    const { expired, available } = await sweepPrescriptions(deps.store, new Date());
    if (expired || available) app.log.info({ expired, available }, 'eps sweep');
  });
  await app.register(epsRoutes(deps), { prefix: EPS_BASE });
};
