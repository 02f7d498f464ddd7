import { FhirError } from '../../fhir/errors.js';
import type { TransferState } from './transfer-model.js';

/**
 * The one transition table of a GP2GP transfer. Every change of state goes through `transition`,
 * which names the current state in its refusal; nothing else decides what may follow what.
 *
 *   requested --send--------------> sending    (old practice posts the EHR Bundle and manifest)
 *   requested --send (no attachments) --> sent
 *   requested --reject------------> failed     (old practice cannot send, e.g. patient not known)
 *   requested --resend-notice-----> requested  (sweep: request notice due again, one more attempt)
 *   requested --timeout-----------> failed     (sweep: no answer after the last attempt)
 *   sending   --chunk-------------> sending    (an attachment chunk arrived, more to come)
 *   sending   --complete----------> sent       (every chunk in, every checksum holds)
 *   sending   --corrupt-----------> failed     (every chunk in, a reassembled checksum differs)
 *   sending   --timeout-----------> failed     (sweep: chunks still missing at the deadline)
 *   sent      --timeout-----------> failed     (sweep: not acknowledged in time)
 *   sent      --accept------------> integrated (new practice's positive acknowledgement)
 *   sent      --reject-ack--------> failed     (new practice's negative acknowledgement)
 *   integrated, failed: final.
 */
export type TransferAction =
  | 'send'
  | 'send-complete'
  | 'reject'
  | 'resend-notice'
  | 'timeout'
  | 'chunk'
  | 'complete'
  | 'corrupt'
  | 'accept'
  | 'reject-ack';

/** Who may take an action: the old practice (owner), the new practice (requester) or the platform itself. */
export type Actor = 'owner' | 'requester' | 'system';

interface Rule {
  from: TransferState;
  to: TransferState;
  by: Actor;
}

export const TRANSITIONS: Readonly<Record<TransferAction, readonly Rule[]>> = {
  send: [{ from: 'requested', to: 'sending', by: 'owner' }],
  'send-complete': [{ from: 'requested', to: 'sent', by: 'owner' }],
  reject: [{ from: 'requested', to: 'failed', by: 'owner' }],
  'resend-notice': [{ from: 'requested', to: 'requested', by: 'system' }],
  timeout: [
    { from: 'requested', to: 'failed', by: 'system' },
    { from: 'sending', to: 'failed', by: 'system' },
    { from: 'sent', to: 'failed', by: 'system' },
  ],
  chunk: [{ from: 'sending', to: 'sending', by: 'owner' }],
  complete: [{ from: 'sending', to: 'sent', by: 'owner' }],
  corrupt: [{ from: 'sending', to: 'failed', by: 'owner' }],
  accept: [{ from: 'sent', to: 'integrated', by: 'requester' }],
  'reject-ack': [{ from: 'sent', to: 'failed', by: 'requester' }],
};

/** What an action is called in refusals, as the caller knows it. */
const ACTION_NAMES: Record<TransferAction, string> = {
  send: '$send',
  'send-complete': '$send',
  reject: '$send (negative)',
  'resend-notice': 'request notice',
  timeout: 'timeout',
  chunk: 'attachment chunk upload',
  complete: 'attachment chunk upload',
  corrupt: 'attachment chunk upload',
  accept: '$acknowledge (positive)',
  'reject-ack': '$acknowledge (negative)',
};

/** States an action may start from, for refusals. */
export function allowedFrom(action: TransferAction): TransferState[] {
  return TRANSITIONS[action].map((r) => r.from);
}

/** The state the action leads to from `state` when `actor` takes it, or a 409 naming the current state. */
export function transition(
  state: TransferState,
  action: TransferAction,
  actor: Actor,
): TransferState {
  const rules = TRANSITIONS[action];
  const byActor = rules.filter((r) => r.by === actor);
  if (byActor.length === 0) {
    const who =
      rules[0].by === 'owner'
        ? 'the sending (old) practice'
        : rules[0].by === 'requester'
          ? 'the requesting (new) practice'
          : 'the platform';
    throw new FhirError(
      403,
      'ACCESS_DENIED',
      `Only ${who} may perform ${ACTION_NAMES[action]} on this transfer`,
    );
  }
  const rule = byActor.find((r) => r.from === state);
  if (!rule) {
    throw new FhirError(
      409,
      'INVALID_UPDATE',
      `Transfer is '${state}'; ${ACTION_NAMES[action]} is allowed only when it is ${allowedFrom(
        action,
      )
        .map((s) => `'${s}'`)
        .join(' or ')}`,
    );
  }
  return rule.to;
}

export const isFinal = (state: TransferState): boolean =>
  state === 'integrated' || state === 'failed';
