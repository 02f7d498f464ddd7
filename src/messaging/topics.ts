/**
 * Topic names and bodies of the life events services publish through the outbox (see types.ts).
 * Every patient event is keyed by the NHS Number, so one patient's events reach each consumer in
 * the order they were committed. Consumers import the names from here rather than spelling them.
 */

/** PDS: a new record was created (birth registration). */
export const PDS_BIRTH = 'pds.patient.birth';
/** PDS: a date of death was recorded on a record that had none. */
export const PDS_DEATH = 'pds.patient.death';
/** PDS: the current home address changed. */
export const PDS_ADDRESS_CHANGE = 'pds.patient.address-change';
/** PDS: the registered GP practice (generalPractitioner) changed. */
export const PDS_GP_CHANGE = 'pds.patient.gp-change';
/** PDS: a record was superseded by another (keyed by the surviving NHS Number). */
export const PDS_MERGE = 'pds.patient.merge';
/** Every PDS patient event. */
export const PDS_PATIENT_TOPICS = 'pds.patient.*';

/** SCR: a new Summary Care Record version was stored. */
export const SCR_DOCUMENT_UPLOADED = 'scr.document.uploaded';
/** SCR: the patient's SCR consent or national opt-out choice changed. */
export const SCR_CONSENT_CHANGED = 'scr.consent.changed';
export const SCR_TOPICS = 'scr.*';

/** EPS: a prescription moved to a new status; the topic is `eps.prescription.<transition>`. */
export const EPS_PRESCRIPTION_TOPICS = 'eps.prescription.*';
export function epsPrescriptionTopic(transition: string): string {
  return `eps.prescription.${transition}`;
}

/** Notifications: one event to deliver to one rest-hook subscription (key `<subscriptionId>|<nhsNumber>`). */
export const NOTIFICATIONS_DELIVER = 'notifications.deliver';

export type PdsEventName = 'birth' | 'death' | 'address-change' | 'gp-change' | 'merge';

/** Body of every pds.patient.* message. */
export interface PdsPatientEventBody {
  nhsNumber: string;
  /** The Patient version the change produced. */
  version: number;
  /** When the change was committed (ISO instant). */
  time: string;
  event: PdsEventName;
  /** The changed facts before the change (absent for a birth). */
  previous?: Record<string, unknown>;
  /** The changed facts after the change. */
  current?: Record<string, unknown>;
  /** gp-change only: ODS code of the practice before (null when there was none). */
  previousPractice?: string | null;
  /** gp-change only: ODS code of the practice now (null when the registration ended). */
  practice?: string | null;
  /** merge only: the NHS Number superseded by nhsNumber. */
  supersededNhsNumber?: string;
}

/** Body of scr.* messages. */
export interface ScrEventBody {
  nhsNumber: string;
  time: string;
  event: 'document-uploaded' | 'consent-changed';
  /** document-uploaded: the stored document and its sequence; consent-changed: the Consent recorded. */
  documentId?: string;
  sequence?: number;
  authorOrg?: string;
  consentId?: string;
  /** consent-changed: the choice code before and after. */
  from?: string;
  to?: string;
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
