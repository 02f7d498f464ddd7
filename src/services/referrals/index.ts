/**
 * The e-Referral Service's public door: what the platform and other services may use of it.
 * Nothing outside src/services/referrals/ imports past this file (eslint.config.js,
 * test/service-doors.test.ts).
 */

// the event contract: topics and the body of every ers.referral.* message
export {
  ERS_REFERRAL_CANCELLED,
  ERS_REFERRAL_CREATED,
  type ErsReferralEventBody,
} from './event-topics.js';

// the error code system of its published refusals (eRS-APIErrorCode-1)
export { ERS_ERROR_SYSTEM } from './ers-errors.js';

// where the e-Referral STU3 API is mounted
export { REFERRALS_BASE } from './routes.js';
