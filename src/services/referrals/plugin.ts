import type { ServicePlugin } from '../service-deps.js';
import { ReferralService } from './referral-service.js';
import { REFERRALS_BASE, referralRoutes } from './routes.js';

/** The e-Referral Service (docs/referrals.md): its STU3 route table under REFERRALS_BASE. */
export const referralsPlugin: ServicePlugin = async (app, deps) => {
  const service = new ReferralService(deps.store, deps.audit);
  await app.register(referralRoutes(deps, service), { prefix: REFERRALS_BASE });
};
