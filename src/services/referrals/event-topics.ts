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
