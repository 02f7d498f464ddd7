/** The e-Referral Service's event contract: topic names and message bodies. */
export const ERS_REFERRAL_CREATED = 'ers.referral.created';
export const ERS_REFERRAL_CANCELLED = 'ers.referral.cancelled';
/** An appointment was booked (or changed) for the referral. */
export const ERS_REFERRAL_BOOKED = 'ers.referral.booked';
/** The booking was deferred to the provider, or the referral sent for triage. */
export const ERS_REFERRAL_SENT = 'ers.referral.sent';
/** The appointment was cancelled, the referral awaiting a new booking. */
export const ERS_APPOINTMENT_CANCELLED = 'ers.referral.appointment-cancelled';
export const ERS_REFERRAL_ACCEPTED = 'ers.referral.accepted';
export const ERS_REFERRAL_REJECTED = 'ers.referral.rejected';
/** A triage outcome was recorded (accept, return to referrer, onward referral). */
export const ERS_REFERRAL_TRIAGED = 'ers.referral.triaged';
/** The referrer changed the referral's shortlist ($ers.changeShortlist, a031). */
export const ERS_REFERRAL_SHORTLIST_CHANGED = 'ers.referral.shortlist-changed';
/** The referral letter (its attached files) was set or changed ($ers.maintainReferralLetter). */
export const ERS_REFERRAL_LETTER = 'ers.referral.letter-updated';

export interface ErsReferralEventBody {
  ubrn: string;
  nhsNumber: string;
  /** ODS code of the referring organisation. */
  referrer: string;
  /** ODS codes of the providers it has been sent to. */
  providers: string[];
  state: string;
  version: number;
  time: string;
  /** The cancellation, rejection or outcome code, when there is one. */
  reason?: string;
}

/** Advice and guidance: a request was made (a044), answered (a026), converted to a referral (a027). */
export const ERS_ADVICE_CREATED = 'ers.advice.created';
export const ERS_ADVICE_RESPONDED = 'ers.advice.responded';
export const ERS_ADVICE_CONVERTED = 'ers.advice.converted';

export interface ErsAdviceEventBody {
  ubrn: string;
  nhsNumber: string;
  /** ODS codes of the requesting organisation and of the provider it was sent to. */
  referrer: string;
  provider: string;
  /** The e-RS service (directory HealthcareService id) it was sent to. */
  service: string;
  state: string;
  version: number;
  time: string;
  /** The provider's guidance outcome (a026) or PROVIDER_CONVERTED (a027). */
  outcome?: string;
}
