/**
 * EPS's event contract: the topic of every prescription status change EPS publishes through the
 * outbox and its body, keyed by NHS Number. Consumers import them through src/services/eps/index.ts.
 */

/** EPS: a prescription moved to a new status; the topic is `eps.prescription.<transition>`. */
export const EPS_PRESCRIPTION_TOPICS = 'eps.prescription.*';
export function epsPrescriptionTopic(transition: string): string {
  return `eps.prescription.${transition}`;
}

/** Body of eps.prescription.* messages (published by EPS). */
export interface EpsPrescriptionEventBody {
  nhsNumber: string;
  prescriptionId: string;
  shortFormId: string;
  /** Repeat dispensing issue number. */
  issue: number;
  status: string;
  /** ODS code of the organisation that made the transition. */
  organisation: string;
  time: string;
}
