import { randomUUID } from 'node:crypto';
import type { OutboxMessage } from '../../messaging/types.js';
import {
  ERS_REFERRAL_CANCELLED,
  ERS_REFERRAL_CREATED,
  type ErsReferralEventBody,
} from './event-topics.js';
import { patientOf, referrerOf, stateOf, type ReferralRequest } from './referral-model.js';

/** The outbox message announcing a referral's creation or cancellation (keyed by NHS Number). */
export function referralMessage(
  referral: ReferralRequest,
  version: number,
  time: string,
  reason?: string,
): OutboxMessage {
  const state = stateOf(referral);
  const body: ErsReferralEventBody = {
    ubrn: referral.id,
    nhsNumber: patientOf(referral),
    referrer: referrerOf(referral),
    state,
    version,
    time,
    ...(reason ? { reason } : {}),
  };
  const topic = state === 'CANCELLED_REFERRAL' ? ERS_REFERRAL_CANCELLED : ERS_REFERRAL_CREATED;
  return { id: randomUUID(), topic, key: body.nhsNumber, body };
}
