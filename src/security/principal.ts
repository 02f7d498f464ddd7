import type { Activity } from './policy.js';

/** Staff user with a selected role profile, a patient (NHS login P9), or an application with no user present. */
export type PrincipalKind = 'user' | 'patient' | 'application';

/**
 * How an application with no user present calls: ordinary application-restricted, or privileged
 * application-restricted (PDS's 'privileged-application-restricted' access mode). Both may only read.
 */
export type ApplicationAccessMode = 'application-restricted' | 'privileged-application-restricted';

/** One of a staff user's role profiles as the identity provider lists them (CIS2's nhsid_nrbac_roles). */
export interface RoleProfileClaim {
  /** The role profile's id (the URID a request names in NHSD-Session-URID). */
  id: string;
  role: string;
  org: string;
}

/** Who is calling, as established from a verified bearer token. */
export interface Principal {
  kind: PrincipalKind;
  /** User id (smartcard UUID), the patient's NHS Number, or the application's client id. */
  userId: string;
  /** Display name for audit and access logs. */
  name?: string;
  /**
   * National RBAC role code of the selected role profile (e.g. R8000), 'patient', or '' for an
   * application, or for a user whose token selects no profile (one is then chosen per request by
   * NHSD-Session-URID: src/security/role-selection.ts).
   */
  role: string;
  /** ODS code of the organisation acting (role profile's org or the application's owner); '' for a patient. */
  org: string;
  /** Activities granted to an application by its registered scopes (users and patients go by the policy table). */
  scopes?: readonly Activity[];
  /** A user's role profiles, when the token lists them; the selected one's id is profileId. */
  profiles?: readonly RoleProfileClaim[];
  /** The id of the role profile the caller acts in, when known. */
  profileId?: string;
  /** An application's access mode (applications only). */
  accessMode?: ApplicationAccessMode;
  /**
   * For a user's or patient's token: the activities the calling application (the OAuth client the
   * token was issued to) is registered for, when the token names them. An activity the caller's role
   * allows but the application is not registered for is refused (PDS: an app without the interaction).
   */
  appActivities?: readonly Activity[];
  /** The patient's own NHS Number, for patient tokens. */
  nhsNumber?: string;
  sessionId: string;
  issuer: string;
  expiresAt: number;
}
