/**
 * SCR's public door: everything another service may use of the Summary Care Record. Services
 * outside src/services/scr/ import SCR only from here.
 */

// a patient's consent choice as SCR records it, for services that publish or honour it
export {
  CHOICES,
  CONSENT_CHOICE_SYSTEM,
  CONSENT_SCOPE,
  CONSENT_SCOPE_SYSTEM,
  isChoiceCode,
} from './consent-codes.js';
export { DENIES } from './consent-resource.js';

// whether a patient has opted out of sharing (national extracts leave them out)
export { optedOut } from './optout.js';

// the event contract: topics and the body of every scr.* message
export {
  SCR_CONSENT_CHANGED,
  SCR_DOCUMENT_UPLOADED,
  SCR_TOPICS,
  type ScrEventBody,
} from './event-topics.js';
