import { ersError } from './ers-errors.js';

/**
 * The one transition table of an advice and guidance (A&G) request. Every change of its state goes
 * through `adviceTransition`, which names the current state in its refusal.
 *
 *   (none)                     --create-------------------> PROVIDER_RESPONSE_REQUIRED        (a044)
 *   PROVIDER_RESPONSE_REQUIRED --requestFurtherInformation-> REFERRER_TO_SUBMIT_FURTHER_INFORMATION (a026)
 *   PROVIDER_RESPONSE_REQUIRED --returnWithAdvice---------> REFERRER_TO_REVIEW_RESPONSE       (a026)
 *   PROVIDER_RESPONSE_REQUIRED --convert------------------> ADVICE_CONVERTED                  (a027; final)
 *
 * State codes as published in eRS-AdviceAndGuidanceStatus-1 (eRS-CommunicationRequest.yaml's
 * category). The referrer's own steps (submitting further information, closing or cancelling the
 * conversation: REFERRER_TO_SUBMIT_FURTHER_INFORMATION -> PROVIDER_RESPONSE_REQUIRED,
 * CONVERSATION_ENDED_CLOSED, CONVERSATION_ENDED_CANCELLED) are taken in e-RS's own application:
 * the API publishes no operation for them, so no action here leads there yet.
 */
export const ADVICE_STATES = [
  'PROVIDER_RESPONSE_REQUIRED',
  'REFERRER_TO_SUBMIT_FURTHER_INFORMATION',
  'REFERRER_TO_REVIEW_RESPONSE',
  'CONVERSATION_ENDED_CANCELLED',
  'CONVERSATION_ENDED_CLOSED',
  'ADVICE_CONVERTED',
] as const;
export type AdviceState = (typeof ADVICE_STATES)[number];

/** The state a new request starts in (a044's answer). */
export const ADVICE_INITIAL_STATE: AdviceState = 'PROVIDER_RESPONSE_REQUIRED';

/** States in which the conversation is still open (the provider's worklist shows these). */
export const OPEN_ADVICE_STATES: readonly AdviceState[] = [
  'PROVIDER_RESPONSE_REQUIRED',
  'REFERRER_TO_SUBMIT_FURTHER_INFORMATION',
  'REFERRER_TO_REVIEW_RESPONSE',
];

export type AdviceAction = 'requestFurtherInformation' | 'returnWithAdvice' | 'convert';

type Table = Readonly<Record<AdviceAction, Partial<Record<AdviceState, AdviceState>>>>;

export const ADVICE_TRANSITIONS: Table = {
  requestFurtherInformation: {
    PROVIDER_RESPONSE_REQUIRED: 'REFERRER_TO_SUBMIT_FURTHER_INFORMATION',
  },
  returnWithAdvice: { PROVIDER_RESPONSE_REQUIRED: 'REFERRER_TO_REVIEW_RESPONSE' },
  convert: { PROVIDER_RESPONSE_REQUIRED: 'ADVICE_CONVERTED' },
};

/** The published operation each action is (for the refusal's wording). */
const ACTION_NAMES: Record<AdviceAction, string> = {
  requestFurtherInformation: '$ers.sendCommunicationToRequester (REQUIRE_FURTHER_INFORMATION)',
  returnWithAdvice: '$ers.sendCommunicationToRequester (RETURN_TO_REFERRER_WITH_ADVICE)',
  convert: '$ers.createFromCommunicationRequestActionLater',
};

/** The state `action` leads to from `state`, or 422 INVALID_REQUEST_STATE naming the current state. */
export function adviceTransition(state: AdviceState, action: AdviceAction): AdviceState {
  const next = ADVICE_TRANSITIONS[action][state];
  if (!next) {
    const from = Object.keys(ADVICE_TRANSITIONS[action])
      .map((s) => `'${s}'`)
      .join(' or ');
    throw ersError(
      422,
      'business-rule',
      'INVALID_REQUEST_STATE',
      `Advice and guidance request is '${state}'; ${ACTION_NAMES[action]} is allowed only when it is ${from}`,
    );
  }
  return next;
}

/** The CommunicationRequest.status each state is published with. */
export const adviceStatus = (state: AdviceState): 'active' | 'cancelled' | 'completed' =>
  state === 'CONVERSATION_ENDED_CANCELLED'
    ? 'cancelled'
    : state === 'CONVERSATION_ENDED_CLOSED' || state === 'ADVICE_CONVERTED'
      ? 'completed'
      : 'active';
