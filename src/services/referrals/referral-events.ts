import { randomUUID } from 'node:crypto';
import type { OutboxMessage } from '../../messaging/types.js';
import type { ErsReferralEventBody } from './event-topics.js';
import {
  patientOf,
  providersOf,
  referrerOf,
  stateOf,
  type ReferralRequest,
} from './referral-model.js';
import { publishedState } from './referral-transitions.js';

/** The outbox message announcing a change of a referral on `topic` (keyed by NHS Number). */
export function referralMessage(
  topic: string,
  referral: ReferralRequest,
  version: number,
  time: string,
  reason?: string,
): OutboxMessage {
  const body: ErsReferralEventBody = {
    ubrn: referral.id,
    nhsNumber: patientOf(referral),
    referrer: referrerOf(referral),
    providers: providersOf(referral),
    state: publishedState(stateOf(referral)),
    version,
    time,
    ...(reason ? { reason } : {}),
  };
  return { id: randomUUID(), topic, key: body.nhsNumber, body };
}
