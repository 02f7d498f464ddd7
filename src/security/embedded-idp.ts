import { randomUUID } from 'node:crypto';
import { ROLES } from './policy.js';
import type { ApplicationAccessMode, RoleProfileClaim } from './principal.js';
import { SIGNING_ALG, type SigningKey } from './signing-keys.js';
import { importJWK, SignJWT } from 'jose';

/** Tokens minted by the development identity provider of a data directory carry this issuer. */
export const EMBEDDED_ISSUER = 'urn:openspine:embedded-idp';
export const TOKEN_ALG = SIGNING_ALG;

// the key files (current and retired) are src/security/signing-keys.ts's; callers keep importing them from here
export { loadOrCreateSigningKey, type SigningKey } from './signing-keys.js';

export interface TokenRequest {
  userId: string;
  role: string;
  org: string;
  audience: string;
  ttlSeconds?: number;
  name?: string;
  /** Issuer to stamp: the embedded issuer by default, the OIDC issuer URL for tokens from the sign-in flow. */
  issuer?: string;
  sessionId?: string;
  profileId?: string;
  /**
   * Every role profile of the user: a request may then act in any of them by naming it in
   * NHSD-Session-URID. With role '' the token selects none, and each request must (unless there is one).
   */
  profiles?: readonly RoleProfileClaim[];
  /** The activities of the application the token is issued to, when it is registered for only some. */
  appActivities?: readonly string[];
}

async function sign(
  key: SigningKey,
  claims: Record<string, unknown>,
  subject: string,
  audience: string,
  ttlSeconds: number,
  issuer = EMBEDDED_ISSUER,
): Promise<string> {
  const privateKey = await importJWK(key.privateJwk, TOKEN_ALG);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: TOKEN_ALG, kid: key.kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setSubject(subject)
    .setAudience(audience)
    .setIssuedAt()
    .setNotBefore('0s')
    .setJti(randomUUID())
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(privateKey);
}

/** Mints a bearer token for a user's selected role profile (12 hours by default, as a smartcard session). */
export async function mintToken(key: SigningKey, req: TokenRequest): Promise<string> {
  const selected = req.role !== '' || !req.profiles?.length;
  const activities = Object.hasOwn(ROLES, req.role) ? ROLES[req.role].activities : [];
  return sign(
    key,
    {
      subject_type: 'user',
      ...(selected ? { role: req.role, org: req.org, activities } : {}),
      sid: req.sessionId ?? randomUUID(),
      ...(req.name ? { name: req.name } : {}),
      ...(req.profileId && selected ? { role_profile_id: req.profileId } : {}),
      ...(req.profiles?.length ? { role_profiles: req.profiles } : {}),
      ...(req.appActivities ? { app_activities: req.appActivities } : {}),
    },
    req.userId,
    req.audience,
    req.ttlSeconds ?? 12 * 3600,
    req.issuer,
  );
}

/** A patient-facing token in the shape of NHS login at identity proofing level P9. */
export async function mintPatientToken(
  key: SigningKey,
  req: {
    nhsNumber: string;
    name?: string;
    audience: string;
    ttlSeconds?: number;
    proofingLevel?: string;
    appActivities?: readonly string[];
    vot?: string | null;
    /** The sign-in session the token belongs to (revoking the session revokes the token). */
    sessionId?: string;
    issuer?: string;
  },
): Promise<string> {
  const level = req.proofingLevel ?? 'P9';
  // NHS login's vector of trust: by default the level with a password and a device (null: none)
  const vot = req.vot === undefined ? `${level}.Cp.Cd` : req.vot;
  return sign(
    key,
    {
      subject_type: 'patient',
      nhs_number: req.nhsNumber,
      identity_proofing_level: level,
      ...(vot === null ? {} : { vot }),
      sid: req.sessionId ?? randomUUID(),
      ...(req.name ? { name: req.name } : {}),
      ...(req.appActivities ? { app_activities: req.appActivities } : {}),
    },
    req.nhsNumber,
    req.audience,
    req.ttlSeconds ?? 3600,
    req.issuer,
  );
}

/**
 * An application-restricted token: no user, only the scopes registered for the application. Its own
 * sid lets one token be revoked (OAuth revocation endpoint) without revoking the application.
 */
export async function mintApplicationToken(
  key: SigningKey,
  req: {
    clientId: string;
    name: string;
    org: string;
    scopes: readonly string[];
    audience: string;
    issuer?: string;
    ttlSeconds?: number;
    accessMode?: ApplicationAccessMode;
  },
): Promise<string> {
  return sign(
    key,
    {
      subject_type: 'application',
      org: req.org,
      name: req.name,
      scope: req.scopes.join(' '),
      sid: randomUUID(),
      access_mode: req.accessMode ?? 'application-restricted',
    },
    req.clientId,
    req.audience,
    req.ttlSeconds ?? 600,
    req.issuer,
  );
}
