import { ersError } from './ers-errors.js';

/**
 * The one transition table of an e-Referral. Every change of state goes through `transition`,
 * which names the current state in its refusal; nothing else decides what may follow what.
 *
 *   (none)     --create--> NOT_BOOKED   ($ers.createReferral: shortlisted, awaiting booking)
 *   NOT_BOOKED --cancel--> CANCELLED_REFERRAL  ($ers.cancelReferral)
 *   CANCELLED_REFERRAL: final ("a one-way process and results in an end-state", a036).
 *
 * State codes as published (eRS-ReferralState-1: NOT_BOOKED in the createReferral example,
 * CANCELLED_REFERRAL in the cancelReferral examples).
 */
export type ReferralState = 'NOT_BOOKED' | 'CANCELLED_REFERRAL';
export type ReferralAction = 'cancel';

export const TRANSITIONS: Readonly<
  Record<ReferralAction, Partial<Record<ReferralState, ReferralState>>>
> = {
  cancel: { NOT_BOOKED: 'CANCELLED_REFERRAL' },
};

const ACTION_NAMES: Record<ReferralAction, string> = { cancel: '$ers.cancelReferral' };

/** The state `action` leads to from `state`, or 422 INVALID_REQUEST_STATE naming the current state. */
export function transition(state: ReferralState, action: ReferralAction): ReferralState {
  const next = TRANSITIONS[action][state];
  if (!next) {
    const from = Object.keys(TRANSITIONS[action])
      .map((s) => `'${s}'`)
      .join(' or ');
    throw ersError(
      422,
      'business-rule',
      'INVALID_REQUEST_STATE',
      `Referral is '${state}'; ${ACTION_NAMES[action]} is allowed only when it is ${from}`,
    );
  }
  return next;
}
