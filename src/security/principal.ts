import type { Activity } from './policy.js';

/** Staff user with a selected role profile, a patient (NHS login P9), or an application with no user present. */
export type PrincipalKind = 'user' | 'patient' | 'application';

/** Who is calling, as established from a verified bearer token. */
export interface Principal {
  kind: PrincipalKind;
  /** User id (smartcard UUID), the patient's NHS Number, or the application's client id. */
  userId: string;
  /** Display name for audit and access logs. */
  name?: string;
  /** National RBAC role code of the selected role profile (e.g. R8000), 'patient', or '' for an application. */
  role: string;
  /** ODS code of the organisation acting (role profile's org or the application's owner); '' for a patient. */
  org: string;
  /** Activities granted to an application by its registered scopes (users and patients go by the policy table). */
  scopes?: readonly Activity[];
  /** The patient's own NHS Number, for patient tokens. */
  nhsNumber?: string;
  sessionId: string;
  issuer: string;
  expiresAt: number;
}
