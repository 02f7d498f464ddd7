import { ersError } from './ers-errors.js';

/**
 * The one transition table of an e-Referral. Every change of state goes through `transition`,
 * which names the current state in its refusal; nothing else decides what may follow what.
 *
 *   (none)                --create--------------> NOT_BOOKED            ($ers.createReferral, a011)
 *   (none)                --createForTriage-----> AWAITING_TRIAGE       (a021)
 *   (none)                --convert A&G---------> TRIAGED_PROVIDER_TO_ACTION (a027: advice-conversion.ts)
 *   NOT_BOOKED            --book----------------> BOOKED                (a016 booking)
 *   NOT_BOOKED            --deferToProvider-----> DEFERRED_TO_PROVIDER  (a016 deferral: no slot free)
 *   NOT_BOOKED            --sendForTriage-------> AWAITING_TRIAGE       (a016 triage deferral)
 *   DEFERRED_TO_PROVIDER  --book----------------> BOOKED                (provider books the deferral)
 *   TRIAGED_PROVIDER_TO_ACTION --book-----------> BOOKED                (provider books after triage)
 *   BOOKED                --rebook--------------> BOOKED                (a034: another slot)
 *   BOOKED                --cancelAppointment---> NOT_BOOKED            (a034: the referrer cancels
 *                                                                        the appointment, to rebook)
 *   BOOKED                --cancelAppointmentActionLater--> TRIAGED_PROVIDER_TO_ACTION
 *                                                      (a022: the provider cancels it and will act)
 *   BOOKED                --accept--------------> ACCEPTED              (a013)
 *   BOOKED                --reject--------------> REJECTED              (a014)
 *   AWAITING_TRIAGE       --triageAcceptBookLater> TRIAGED_PROVIDER_TO_ACTION (a028 accept, book later)
 *   AWAITING_TRIAGE       --triageReturn--------> TRIAGE_RESPONSE       (a028 return to referrer)
 *   TRIAGE_RESPONSE       --sendForTriage-------> AWAITING_TRIAGE       (a032: referrer sends again)
 *   TRIAGE_RESPONSE       --changeShortlist-----> NOT_BOOKED            (a031)
 *   NOT_BOOKED            --changeShortlist-----> NOT_BOOKED            (a031)
 *   any live state        --cancel--------------> CANCELLED_REFERRAL    (a036; final)
 *   REJECTED, CANCELLED_REFERRAL: final; ACCEPTED: final for the referral (the provider's care).
 *
 * State codes as published in eRS-ReferralState-1 (NOT_BOOKED, BOOKED, DEFERRED_TO_PROVIDER,
 * AWAITING_TRIAGE, TRIAGE_RESPONSE, TRIAGED_PROVIDER_TO_ACTION, REJECTED, CANCELLED_REFERRAL in
 * the sandbox's examples). ACCEPTED is OpenSpine's: e-RS answers an accepted referral as BOOKED
 * with its review outcome, so the views show it as BOOKED (publishedState).
 */
export const REFERRAL_STATES = [
  'NOT_BOOKED',
  'BOOKED',
  'DEFERRED_TO_PROVIDER',
  'AWAITING_TRIAGE',
  'TRIAGE_RESPONSE',
  'TRIAGED_PROVIDER_TO_ACTION',
  'ACCEPTED',
  'REJECTED',
  'CANCELLED_REFERRAL',
] as const;
export type ReferralState = (typeof REFERRAL_STATES)[number];

export type ReferralAction =
  | 'book'
  | 'rebook'
  | 'deferToProvider'
  | 'sendForTriage'
  | 'cancelAppointment'
  | 'cancelAppointmentActionLater'
  | 'accept'
  | 'reject'
  | 'triageAcceptBookLater'
  | 'triageReturn'
  | 'changeShortlist'
  | 'cancel';

type Table = Readonly<Record<ReferralAction, Partial<Record<ReferralState, ReferralState>>>>;

export const TRANSITIONS: Table = {
  book: {
    NOT_BOOKED: 'BOOKED',
    DEFERRED_TO_PROVIDER: 'BOOKED',
    TRIAGED_PROVIDER_TO_ACTION: 'BOOKED',
  },
  rebook: { BOOKED: 'BOOKED' },
  deferToProvider: { NOT_BOOKED: 'DEFERRED_TO_PROVIDER' },
  sendForTriage: { NOT_BOOKED: 'AWAITING_TRIAGE', TRIAGE_RESPONSE: 'AWAITING_TRIAGE' },
  cancelAppointment: { BOOKED: 'NOT_BOOKED' },
  cancelAppointmentActionLater: { BOOKED: 'TRIAGED_PROVIDER_TO_ACTION' },
  accept: { BOOKED: 'ACCEPTED' },
  reject: { BOOKED: 'REJECTED' },
  triageAcceptBookLater: { AWAITING_TRIAGE: 'TRIAGED_PROVIDER_TO_ACTION' },
  triageReturn: { AWAITING_TRIAGE: 'TRIAGE_RESPONSE' },
  changeShortlist: { NOT_BOOKED: 'NOT_BOOKED', TRIAGE_RESPONSE: 'NOT_BOOKED' },
  cancel: {
    NOT_BOOKED: 'CANCELLED_REFERRAL',
    BOOKED: 'CANCELLED_REFERRAL',
    DEFERRED_TO_PROVIDER: 'CANCELLED_REFERRAL',
    AWAITING_TRIAGE: 'CANCELLED_REFERRAL',
    TRIAGE_RESPONSE: 'CANCELLED_REFERRAL',
    TRIAGED_PROVIDER_TO_ACTION: 'CANCELLED_REFERRAL',
  },
};

/** The published operation each action is (for the refusal's wording). */
const ACTION_NAMES: Record<ReferralAction, string> = {
  book: '$ers.bookOrDeferAppointment (booking)',
  rebook: 'updating the appointment',
  deferToProvider: '$ers.bookOrDeferAppointment (deferral to the provider)',
  sendForTriage: 'sending for triage',
  cancelAppointment: 'cancelling the appointment (Appointment update)',
  cancelAppointmentActionLater: '$ers.cancelAppointmentActionLater',
  accept: '$ers.acceptReferral',
  reject: '$ers.rejectReferral',
  triageAcceptBookLater: '$ers.recordReviewOutcome (accept, book later)',
  triageReturn: '$ers.recordReviewOutcome (return to referrer)',
  changeShortlist: '$ers.changeShortlist',
  cancel: '$ers.cancelReferral',
};

/** The state e-RS answers for a stored state (ACCEPTED is shown as BOOKED, as e-RS does). */
export const publishedState = (state: ReferralState): string =>
  state === 'ACCEPTED' ? 'BOOKED' : state;

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
