import {
  createLocalJWKSet,
  createRemoteJWKSet,
  jwtVerify,
  errors,
  type JWTPayload,
  type JWK,
} from 'jose';
import { FhirError } from '../fhir/errors.js';
import { EMBEDDED_ISSUER, TOKEN_ALG } from './embedded-idp.js';
import type { Principal, RoleProfileClaim } from './principal.js';
import type { RetiredKey } from './signing-keys.js';
import { isActivity, PATIENT_ROLE, type Activity } from './policy.js';

export interface VerifierOptions {
  embeddedPublicJwk: JWK;
  /** The prepared next key (`openspine keys prepare`): nodes restarted after the rotation sign with it. */
  nextPublicJwk?: JWK;
  /**
   * Keys retired by `openspine keys rotate`: a token one of them signed is accepted until the token
   * expires or the key's overlap ends, whichever is first.
   */
  retiredKeys?: readonly RetiredKey[];
  /** Further issuer names the embedded key signs for (the OIDC issuer URL of the sign-in flow). */
  embeddedIssuers?: string[];
  audience: string;
  external: { issuer: string; jwksUrl: string; audience: string } | null;
}

const CACHE_LIMIT = 10_000;

/**
 * Verifies bearer tokens from the embedded identity provider or one configured external issuer.
 * Verified tokens are cached until they expire, so a busy user's repeated calls cost a map lookup
 * instead of a signature check; revocation (security issue) consults the store separately.
 */
export class TokenVerifier {
  private readonly embeddedKeys;
  private readonly externalKeys;
  private readonly cache = new Map<string, Principal>();
  private readonly embeddedIssuers: Set<string>;
  private readonly retired: Map<string, RetiredKey>;

  constructor(private readonly options: VerifierOptions) {
    this.embeddedIssuers = new Set([EMBEDDED_ISSUER, ...(options.embeddedIssuers ?? [])]);
    this.retired = new Map((options.retiredKeys ?? []).map((r) => [r.kid, r]));
    this.embeddedKeys = createLocalJWKSet({
      keys: [
        options.embeddedPublicJwk,
        ...(options.nextPublicJwk ? [options.nextPublicJwk] : []),
        ...[...this.retired.values()].map((r) => r.publicJwk),
      ],
    });
    this.externalKeys = options.external
      ? createRemoteJWKSet(new URL(options.external.jwksUrl))
      : null;
  }

  /** The caller of a token verified before and not yet expired, without any further work; else undefined. */
  cached(authorization: string | undefined): Principal | undefined {
    if (!authorization || !authorization.startsWith('Bearer ')) return undefined;
    const hit = this.cache.get(authorization.slice(7));
    return hit && hit.expiresAt * 1000 > Date.now() ? hit : undefined;
  }

  async verify(authorization: string | undefined): Promise<Principal> {
    const hit = this.cached(authorization);
    if (hit) return hit;
    // PDS's published words (karate-tests healthcareWorker/invalidHeaders/invalidHeaders.feature,
    // common/getPatient.feature)
    if (authorization === undefined)
      throw new FhirError(401, 'ACCESS_DENIED', 'Missing Authorization header');
    if (authorization.trim() === '')
      throw new FhirError(401, 'ACCESS_DENIED', 'Empty Authorization header');
    if (/^Bearer\s*$/i.test(authorization))
      throw new FhirError(401, 'ACCESS_DENIED', 'Missing access token');
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(authorization);
    if (!match && /^Bearer\s/i.test(authorization))
      throw new FhirError(401, 'ACCESS_DENIED', 'Invalid Access Token');
    if (!match)
      throw new FhirError(401, 'ACCESS_DENIED', 'Authorization header must be a Bearer token');
    const token = match[1];
    this.cache.delete(token); // an expired entry, if there is one
    const { principal, retiredKey } = await this.verifyUncached(token);
    // a retired key's tokens are checked each time: its overlap may end before they expire
    if (retiredKey) return principal;
    if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(token, principal);
    return principal;
  }

  private async verifyUncached(
    token: string,
  ): Promise<{ principal: Principal; retiredKey: boolean }> {
    let payload: JWTPayload;
    let retiredKey = false;
    try {
      const issuer = this.peekIssuer(token);
      if (issuer !== undefined && this.embeddedIssuers.has(issuer)) {
        let kid: string | undefined;
        ({
          payload,
          protectedHeader: { kid },
        } = await jwtVerify(token, this.embeddedKeys, {
          issuer,
          audience: this.options.audience,
          algorithms: [TOKEN_ALG],
          requiredClaims: ['exp', 'sub'],
        }));
        const retired = kid === undefined ? undefined : this.retired.get(kid);
        if (retired) {
          retiredKey = true;
          if (Date.now() >= Date.parse(retired.acceptUntil))
            throw new FhirError(401, 'ACCESS_DENIED', 'Access token signing key has been retired');
        }
      } else if (
        this.externalKeys &&
        this.options.external &&
        issuer === this.options.external.issuer
      ) {
        ({ payload } = await jwtVerify(token, this.externalKeys, {
          issuer: this.options.external.issuer,
          audience: this.options.external.audience,
          algorithms: ['RS256', 'RS512', 'ES256', 'PS256'],
          requiredClaims: ['exp', 'sub'],
        }));
      } else {
        throw new FhirError(401, 'ACCESS_DENIED', 'Access token issuer is not trusted');
      }
    } catch (err) {
      if (err instanceof FhirError) throw err;
      throw new FhirError(401, 'ACCESS_DENIED', describeJoseError(err));
    }
    return { principal: principalFromClaims(payload), retiredKey };
  }

  /** Reads the unverified issuer only to choose the key set; the signature is checked after. */
  private peekIssuer(token: string): string | undefined {
    const parts = token.split('.');
    // PDS's published words for a token that is not one (invalidHeaders.feature: 'Bearer abcdef123456789')
    if (parts.length !== 3) throw new FhirError(401, 'ACCESS_DENIED', 'Invalid Access Token');
    try {
      const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
      return typeof claims?.iss === 'string' ? claims.iss : undefined;
    } catch {
      throw new FhirError(401, 'ACCESS_DENIED', 'Invalid Access Token');
    }
  }
}

function describeJoseError(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'Access token has expired';
  if (err instanceof errors.JWTClaimValidationFailed)
    return `Access token claim '${err.claim}' is invalid`;
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return 'Access token signature is invalid';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'Access token algorithm is not allowed';
  return 'Access token is invalid';
}

const NHS_NUMBER = /^\d{10}$/;
const ODS = /^[A-Z0-9]{3,8}$/;
const PROFILE_ID = /^[A-Za-z0-9._-]{1,64}$/;
const deny = (why: string) => new FhirError(401, 'ACCESS_DENIED', why);

/**
 * A signed, current patient token whose NHS login assurance is too low (proofing level, vector of
 * trust): refused 401 by the platform; PDS words it as its published 403 (src/services/pds/published-errors.ts).
 */
export class InsufficientPatientAssurance extends FhirError {
  constructor(why: string) {
    super(401, 'ACCESS_DENIED', why);
  }
}

/** NHS login's second-factor credentials: a device (Cd), a key (Ck), or a multi-factor sign-in (Cm). */
const STRONG_CREDENTIALS = ['Cd', 'Ck', 'Cm'];

/**
 * NHS login's vector of trust (`vot`, e.g. P9.Cp.Cd): PDS serves a patient proven to P9 who signed in
 * with a second factor; a password alone (P9.Cp) or no vector at all is refused
 * (karate patientAccess/getPatient.feature).
 */
function strongVectorOfTrust(vot: unknown): boolean {
  if (typeof vot !== 'string') return false;
  const [level, ...credentials] = vot.split('.');
  return level === 'P9' && credentials.some((c) => STRONG_CREDENTIALS.includes(c));
}

/** The `app_activities` claim: the activities of the application the token was issued to, when it names them. */
function appActivitiesOf(payload: JWTPayload): Activity[] | undefined {
  const claim = payload.app_activities;
  if (claim === undefined) return undefined;
  if (!Array.isArray(claim) || claim.some((a) => typeof a !== 'string'))
    throw deny('Access token app_activities claim is malformed');
  return (claim as string[]).filter(isActivity);
}

/** The `role_profiles` claim: every role profile of the user, as the identity provider lists them. */
function roleProfilesOf(payload: JWTPayload): RoleProfileClaim[] | undefined {
  const claim = payload.role_profiles;
  if (claim === undefined) return undefined;
  const valid = (p: unknown): p is RoleProfileClaim => {
    const r = p as Record<string, unknown> | null;
    return (
      !!r &&
      typeof r.id === 'string' &&
      PROFILE_ID.test(r.id) &&
      typeof r.role === 'string' &&
      r.role !== '' &&
      r.role !== PATIENT_ROLE &&
      typeof r.org === 'string'
    );
  };
  if (!Array.isArray(claim) || !claim.every(valid))
    throw deny('Access token role_profiles claim is malformed');
  return claim.map((p) => ({ id: p.id, role: p.role, org: p.org }));
}

/** Turns verified claims into the caller's identity; a token whose claims do not fit its subject type is refused. */
export function principalFromClaims(payload: JWTPayload): Principal {
  const appActivities = appActivitiesOf(payload);
  const common = {
    userId: payload.sub as string,
    name: typeof payload.name === 'string' ? payload.name : undefined,
    sessionId: typeof payload.sid === 'string' ? payload.sid : '',
    issuer: payload.iss as string,
    expiresAt: payload.exp as number,
    ...(appActivities ? { appActivities } : {}),
  };
  const type = payload.subject_type ?? 'user';
  if (type === 'patient') {
    const nhs = payload.nhs_number;
    if (typeof nhs !== 'string' || !NHS_NUMBER.test(nhs) || nhs !== payload.sub)
      throw deny('Patient access token has no valid NHS Number');
    if (payload.identity_proofing_level !== 'P9')
      throw new InsufficientPatientAssurance('Patient access needs identity proofing level P9');
    if (!strongVectorOfTrust(payload.vot))
      throw new InsufficientPatientAssurance(
        `Patient access needs identity proofing level P9 with a second authentication factor (vector of trust ${STRONG_CREDENTIALS.map((c) => `P9.Cp.${c}`).join(', ')}, or P9.Cm)`,
      );
    return { ...common, kind: 'patient', role: PATIENT_ROLE, org: '', nhsNumber: nhs };
  }
  if (type === 'application') {
    const org = payload.org,
      scope = payload.scope,
      mode = payload.access_mode ?? 'application-restricted';
    if (typeof org !== 'string' || !ODS.test(org) || typeof scope !== 'string')
      throw deny('Application access token has no organisation or scope');
    if (mode !== 'application-restricted' && mode !== 'privileged-application-restricted')
      throw deny('Application access token access mode is not recognised');
    const scopes = scope.split(' ').filter(isActivity);
    return { ...common, kind: 'application', role: '', org, scopes, accessMode: mode };
  }
  if (type !== 'user') throw deny('Access token subject type is not recognised');
  const role = payload.role,
    org = payload.org,
    profiles = roleProfilesOf(payload);
  const profileId =
    typeof payload.role_profile_id === 'string' ? payload.role_profile_id : undefined;
  // a token listing the user's role profiles may leave the choice to each request (NHSD-Session-URID)
  if (role === undefined && org === undefined && profiles && profiles.length > 0) {
    return { ...common, kind: 'user', role: '', org: '', profiles };
  }
  if (typeof role !== 'string' || typeof org !== 'string' || role === PATIENT_ROLE) {
    throw deny('Access token has no role profile (role and org claims)');
  }
  return {
    ...common,
    kind: 'user',
    role,
    org,
    ...(profiles ? { profiles } : {}),
    ...(profileId ? { profileId } : {}),
  };
}
