import type { ServicePlugin } from '../service-deps.js';
import { adviceRoutes } from './advice-routes.js';
import { attachmentRoutes } from './attachment-routes.js';
import { bookingRoutes } from './booking-routes.js';
import { capabilityRoutes } from './capability-routes.js';
import { letterRoutes } from './letter-routes.js';
import { patientAccessRoutes } from './patient-access-routes.js';
import { patientBookingRoutes } from './patient-booking-routes.js';
import { PATIENT_REFERRALS_BASE, patientRoutes } from './patient-routes.js';
import { r4RequestRoutes } from './r4-request-routes.js';
import { r4Routes, REFERRALS_R4_BASE } from './r4-routes.js';
import { REFERRALS_API_ROOT, referenceDataRoutes } from './reference-data-routes.js';
import { providerRoutes } from './provider-routes.js';
import { ReferralService } from './referral-service.js';
import { REFERRALS_BASE, referralRoutes } from './routes.js';
import { serviceSearchRoutes } from './search-routes.js';
import { REFERRALS_MANAGE_BASE, slotRoutes } from './slot-routes.js';

/** The e-Referral Service (docs/referrals.md): its STU3 route table under REFERRALS_BASE. */
export const referralsPlugin: ServicePlugin = async (app, deps) => {
  const service = new ReferralService(deps.store, deps.audit);
  await app.register(referralRoutes(deps, service), { prefix: REFERRALS_BASE });
  await app.register(bookingRoutes(deps), { prefix: REFERRALS_BASE });
  await app.register(slotRoutes(deps), { prefix: REFERRALS_MANAGE_BASE });
  await app.register(adviceRoutes(deps), { prefix: REFERRALS_BASE });
  await app.register(letterRoutes(deps), { prefix: REFERRALS_BASE });
  await app.register(attachmentRoutes(deps), { prefix: REFERRALS_BASE });
  await app.register(patientRoutes(deps), { prefix: PATIENT_REFERRALS_BASE });
  await app.register(patientBookingRoutes(deps), { prefix: PATIENT_REFERRALS_BASE });
  await app.register(patientAccessRoutes(deps), { prefix: PATIENT_REFERRALS_BASE });
  await app.register(referenceDataRoutes(deps), { prefix: REFERRALS_BASE });
  await app.register(r4Routes(deps), { prefix: REFERRALS_R4_BASE });
  await app.register(r4RequestRoutes(deps), { prefix: REFERRALS_R4_BASE });
  await app.register(capabilityRoutes(deps, REFERRALS_API_ROOT), { prefix: REFERRALS_API_ROOT });
  await app.register(serviceSearchRoutes(deps), { prefix: REFERRALS_BASE });
  await app.register(providerRoutes(deps), { prefix: REFERRALS_BASE });
};
