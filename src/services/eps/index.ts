/**
 * EPS's public door: everything another service may use of the Electronic Prescription Service.
 * Services outside src/services/eps/ import EPS only from here.
 */

// the event contract: what EPS publishes on every prescription status change
export {
  EPS_PRESCRIPTION_TOPICS,
  epsPrescriptionTopic,
  type EpsPrescriptionEventBody,
} from './event-topics.js';

// prescribers' signing keys, managed from the CLI
export {
  addPrescriberKey,
  listPrescriberKeys,
  PrescriberKeyError,
  revokePrescriberKey,
} from './prescriber-keys.js';
