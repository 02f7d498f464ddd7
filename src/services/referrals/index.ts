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

// providers' appointment slots: publishing runs (management API, CLI) and the demo's slots
export {
  parseSlotRun,
  publishDemoSlots,
  publishSlots,
  withdrawSlot,
  type PublishResult,
  type SlotRun,
} from './slot-publishing.js';
export {
  ERS_APPOINTMENT_CANCELLED,
  ERS_REFERRAL_BOOKED,
  ERS_REFERRAL_SENT,
} from './event-topics.js';

// advice and guidance: the event contract of ers.advice.* messages
export {
  ERS_ADVICE_CONVERTED,
  ERS_ADVICE_CREATED,
  ERS_ADVICE_RESPONDED,
  type ErsAdviceEventBody,
} from './event-topics.js';

// the provider's review and triage, and shortlist changes: their ers.referral.* topics
export {
  ERS_REFERRAL_ACCEPTED,
  ERS_REFERRAL_REJECTED,
  ERS_REFERRAL_SHORTLIST_CHANGED,
  ERS_REFERRAL_TRIAGED,
} from './event-topics.js';

// the error code systems of its published R4 refusals (the proxy's and e-RS's own)
export { APIM_ERROR_SYSTEM, HTTP_ERROR_SYSTEM } from './r4-errors.js';
