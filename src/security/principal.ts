/** Who is calling, as established from a verified bearer token. */
export interface Principal {
  userId: string;
  /** National RBAC role code of the selected role profile, e.g. R8000. */
  role: string;
  /** ODS code of the organisation the role profile belongs to. */
  org: string;
  sessionId: string;
  issuer: string;
  expiresAt: number;
}
