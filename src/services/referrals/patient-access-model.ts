/**
 * What lets a patient act on their referral: the hash of the password on their latest letter
 * (a019) and the count of wrong passwords since, kept in the store under the referral's UBRN, so a
 * lock survives a restart and holds on every node. A new letter replaces the password and lifts
 * the lock.
 */
import { resourceType, type ResourceWrite } from '../../store/resource-store.js';
import type { PasswordHash } from './patient-password.js';

export interface ErsPatientAccess {
  resourceType: 'ErsPatientAccess';
  /** The UBRN. */
  id: string;
  nhsNumber: string;
  password: PasswordHash;
  issued: string;
  issuedBy: { user: string; org: string };
  /** Wrong passwords since the letter was printed (or since the last right one). */
  failures: number;
  /** When the MAX_PASSWORD_FAILURES-th wrong password locked the referral. */
  lockedAt?: string;
  [field: string]: unknown;
}

export const ERS_PATIENT_ACCESS = resourceType<ErsPatientAccess>('ErsPatientAccess');

/** Wrong passwords a referral takes before it is locked until a new letter is printed. */
export const MAX_PASSWORD_FAILURES = 5;

export function patientAccessWrite(
  access: ErsPatientAccess,
  expectedVersion: number,
): ResourceWrite {
  return {
    type: ERS_PATIENT_ACCESS,
    id: access.id,
    expectedVersion,
    resource: access,
    index: [{ param: 'patient', value: access.nhsNumber }],
  };
}
