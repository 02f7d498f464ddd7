/**
 * PDS's event contract: the topics of the life events PDS publishes through the outbox and the body
 * of every pds.patient.* message. Consumers (notifications, GP2GP) import them through
 * src/services/pds/index.ts; the transport (src/messaging/) knows nothing of them.
 * Every patient event is keyed by the NHS Number, so one patient's events reach each consumer in
 * the order they were committed.
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
