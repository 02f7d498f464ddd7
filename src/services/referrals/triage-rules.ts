/**
 * What the triage operations must carry, checked without the store: the body of
 * $ers.createReferralAndSendForTriage (a021, eRS-CreateReferralAndSendForTriage-Parameters) and of
 * $ers.recordReviewOutcome (a028, eRS-RecordReviewOutcome-Parameters). Refusals in eRS's words.
 */
import { ersError } from './ers-errors.js';
import { badCode, invalid, knownParameters, missing } from './ers-parameters.js';
import { PRIORITY_SYSTEM } from './referral-model.js';
import {
  parseCreateReferral,
  parseShortlist,
  type CreateReferralRequest,
} from './referral-rules.js';
import type { ReferralAction } from './referral-transitions.js';

export const LETTER_INTENTION_SYSTEM =
  'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ReferralLetterIntention-1';
export const REVIEW_REASON_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ReviewReason-1';
export const REVIEW_OUTCOME_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-ReviewOutcome-1';
export const PRIORITY_DISPLAY: Record<string, string> = {
  ROUTINE: 'Routine',
  URGENT: 'Urgent',
  TWO_WEEK_WAIT: '2 Week Wait',
};

const A021_PARAMS = [
  'patient',
  'shortlist',
  'intentionToAddReferralLetter',
  'firstReminderLetterFollowUpDays',
  'referringClinician',
] as const;

/**
 * $ers.createReferralAndSendForTriage's body: the create request's rules (parseCreateReferral) and
 * a021's own: no pathway start, exactly one shortlisted service, a letter to be added later
 * (NEED_TO_ADD_LATER, the only value a021 allows) and no reminder letter (0, the only value).
 */
export function parseCreateForTriage(body: unknown, now: Date): CreateReferralRequest {
  const p = knownParameters(body, A021_PARAMS);
  letterParameters(p, true, ['NEED_TO_ADD_LATER']);
  const clinician = p.one('referringClinician')?.valueIdentifier as
    { system?: unknown; value?: unknown } | undefined;
  if (p.one('referringClinician') && (typeof clinician?.value !== 'string' || !clinician.value))
    throw invalid("'referringClinician' must be a valueIdentifier (SDS user ID)");
  const request = parseCreateReferral(body, now);
  requireOneService(request.serviceIds);
  return request;
}

/** 422 TOO_MANY_ITEMS unless a shortlist sent for triage holds exactly one service. */
function requireOneService(serviceIds: string[]): void {
  if (serviceIds.length !== 1)
    throw ersError(
      422,
      'value',
      'TOO_MANY_ITEMS',
      `a shortlist sent for triage must hold exactly one service; ${serviceIds.length} were given`,
    );
}

/**
 * The letter and reminder parameters a021, a031 and a032 carry (1..1 each). Sending for triage, the
 * reminder must be 0 (TriageFirstReminderLetterFollowUpDays); a021 also allows only a letter to be
 * added later (NEED_TO_ADD_LATER), a031 and a032 either published intention.
 */
function letterParameters(
  p: ReturnType<typeof knownParameters>,
  forTriage: boolean,
  codes = ['NEED_TO_ADD_LATER', 'NOT_INTENDING_TO_ADD'],
) {
  const intention = p.one('intentionToAddReferralLetter');
  if (!intention) throw missing('intentionToAddReferralLetter');
  const coding = intention.valueCoding as { system?: unknown; code?: unknown } | undefined;
  if (
    !coding ||
    coding.system !== LETTER_INTENTION_SYSTEM ||
    typeof coding.code !== 'string' ||
    !codes.includes(coding.code)
  )
    throw badCode(
      `'intentionToAddReferralLetter' must be ${codes.join(' or ')} (${LETTER_INTENTION_SYSTEM})`,
    );
  const reminder = p.one('firstReminderLetterFollowUpDays');
  if (!reminder) throw missing('firstReminderLetterFollowUpDays');
  const days = reminder.valueUnsignedInt;
  if (forTriage && days !== 0)
    throw invalid(
      "'firstReminderLetterFollowUpDays' must be valueUnsignedInt 0 when sending for triage",
    );
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 0 || days > 2_147_483_647)
    throw invalid("'firstReminderLetterFollowUpDays' must be a valueUnsignedInt");
}

export interface ChangeShortlistRequest {
  list: Record<string, unknown>;
  serviceIds: string[];
  priority?: { system: string; code: string };
}

/**
 * $ers.changeShortlist's body (a031, eRS-ChangeShortlist-Parameters) or, `forTriage`,
 * $ers.changeShortlistAndSendForTriage's (a032: one triage service and no reminder letter).
 */
export function parseChangeShortlist(body: unknown, forTriage: boolean): ChangeShortlistRequest {
  const p = knownParameters(body, [
    'shortlist',
    'intentionToAddReferralLetter',
    'firstReminderLetterFollowUpDays',
  ]);
  const shortlist = parseShortlist(p.one('shortlist'));
  letterParameters(p, forTriage);
  if (forTriage) requireOneService(shortlist.serviceIds);
  return shortlist;
}

/**
 * The review outcomes a028 records (eRS-ReviewOutcome-1) and the transition each one is. The
 * endpoint publishes two more codes but says "The only outcomes that are supported by this endpoint
 * are 'Return to referrer with advice' and 'Accept and refer/book later'".
 */
export const REVIEW_OUTCOMES: Record<string, { action: ReferralAction; display: string }> = {
  ACCEPT_REFER_BOOK_LATER: { action: 'triageAcceptBookLater', display: 'Accept Refer Book Later' },
  RETURN_TO_REFERRER_WITH_ADVICE: {
    action: 'triageReturn',
    display: 'Return to Referrer With Advice',
  },
};
const UNSUPPORTED_OUTCOMES = [
  'CANCEL_APPOINTMENT_ACTION_LATER',
  'PROVIDER_CONVERTED_ADVICE_AND_GUIDANCE_ADMIN_TO_REFER',
];
const MAX_COMMENT = 2000;

export interface ReviewOutcomeRequest {
  outcome: string;
  action: ReferralAction;
  display: string;
  comments: string;
  priority?: string;
}

/** $ers.recordReviewOutcome's body (eRS-RecordReviewOutcome-Parameters). */
export function parseReviewOutcome(body: unknown): ReviewOutcomeRequest {
  const p = knownParameters(
    body,
    ['reviewOutcome', 'reviewComments', 'reviewPriority', 'reviewAttachmentFile'],
    ['reviewAttachmentFile'],
  );
  const outcomeParam = p.one('reviewOutcome');
  if (!outcomeParam) throw missing('reviewOutcome');
  const coding = outcomeParam.valueCoding as { system?: unknown; code?: unknown } | undefined;
  const code = typeof coding?.code === 'string' ? coding.code : '';
  if (coding?.system === REVIEW_OUTCOME_SYSTEM && UNSUPPORTED_OUTCOMES.includes(code))
    throw ersError(
      422,
      'business-rule',
      'INAPPROPRIATE_VALUE',
      `'reviewOutcome' ${code} is not recorded by $ers.recordReviewOutcome; use RETURN_TO_REFERRER_WITH_ADVICE or ACCEPT_REFER_BOOK_LATER`,
    );
  if (coding?.system !== REVIEW_OUTCOME_SYSTEM || !Object.hasOwn(REVIEW_OUTCOMES, code))
    throw badCode(
      `'reviewOutcome' must be one of ${Object.keys(REVIEW_OUTCOMES).join(', ')} (${REVIEW_OUTCOME_SYSTEM})`,
    );
  const commentsParam = p.one('reviewComments');
  if (!commentsParam) throw missing('reviewComments');
  const comments = commentsParam.valueString;
  if (typeof comments !== 'string' || comments.length > MAX_COMMENT)
    throw invalid(`'reviewComments' must be a string of at most ${MAX_COMMENT} characters`);
  if (comments.trim() === '')
    throw ersError(422, 'required', 'VALUE_IS_REQUIRED', "'reviewComments' must not be empty");
  const priorityParam = p.one('reviewPriority');
  let priority: string | undefined;
  if (priorityParam) {
    const pc = priorityParam.valueCoding as { system?: unknown; code?: unknown } | undefined;
    if (
      pc?.system !== PRIORITY_SYSTEM ||
      typeof pc.code !== 'string' ||
      !Object.hasOwn(PRIORITY_DISPLAY, pc.code)
    )
      throw badCode(
        `'reviewPriority' must be one of ${Object.keys(PRIORITY_DISPLAY).join(', ')} (${PRIORITY_SYSTEM})`,
      );
    priority = pc.code;
  }
  // attachments are associated only once uploaded for this referral (a020); none can be resolved yet
  const attachment = p.all('reviewAttachmentFile')[0];
  if (attachment) {
    const url = (attachment.resource as { content?: { attachment?: { url?: unknown } }[] })
      ?.content?.[0]?.attachment?.url;
    throw ersError(
      422,
      'not-found',
      'REFERENCE_NOT_FOUND',
      `'reviewAttachmentFile' ${typeof url === 'string' ? url.slice(0, 80) : ''} is not an attachment uploaded for this referral`,
    );
  }
  const { action, display } = REVIEW_OUTCOMES[code];
  return { outcome: code, action, display, comments, ...(priority ? { priority } : {}) };
}
