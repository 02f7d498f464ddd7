/** The e-Referral Service's event contract: topic names and message bodies. */
export const ERS_REFERRAL_CREATED = 'ers.referral.created';
export const ERS_REFERRAL_CANCELLED = 'ers.referral.cancelled';

export interface ErsReferralEventBody {
  ubrn: string;
  nhsNumber: string;
  /** ODS code of the referring organisation. */
  referrer: string;
  state: string;
  version: number;
  time: string;
  /** The cancellation reason code (cancelled only). */
  reason?: string;
}
