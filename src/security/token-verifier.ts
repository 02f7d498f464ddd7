import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, errors, type JWTPayload, type JWK } from 'jose';
import { FhirError } from '../fhir/errors.js';
import { EMBEDDED_ISSUER, TOKEN_ALG } from './embedded-idp.js';
import type { Principal } from './principal.js';

export interface VerifierOptions {
  embeddedPublicJwk: JWK;
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

  constructor(private readonly options: VerifierOptions) {
    this.embeddedKeys = createLocalJWKSet({ keys: [options.embeddedPublicJwk] });
    this.externalKeys = options.external ? createRemoteJWKSet(new URL(options.external.jwksUrl)) : null;
  }

  async verify(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw new FhirError(401, 'ACCESS_DENIED', 'Missing Authorization header');
    const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(authorization);
    if (!match) throw new FhirError(401, 'ACCESS_DENIED', 'Authorization header must be a Bearer token');
    const token = match[1];
    const cached = this.cache.get(token);
    if (cached) {
      if (cached.expiresAt * 1000 > Date.now()) return cached;
      this.cache.delete(token);
    }
    const principal = await this.verifyUncached(token);
    if (this.cache.size >= CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(token, principal);
    return principal;
  }

  private async verifyUncached(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      const issuer = this.peekIssuer(token);
      if (issuer === EMBEDDED_ISSUER) {
        ({ payload } = await jwtVerify(token, this.embeddedKeys, {
          issuer: EMBEDDED_ISSUER, audience: this.options.audience, algorithms: [TOKEN_ALG], requiredClaims: ['exp', 'sub'],
        }));
      } else if (this.externalKeys && this.options.external && issuer === this.options.external.issuer) {
        ({ payload } = await jwtVerify(token, this.externalKeys, {
          issuer: this.options.external.issuer, audience: this.options.external.audience,
          algorithms: ['RS256', 'RS512', 'ES256', 'PS256'], requiredClaims: ['exp', 'sub'],
        }));
      } else {
        throw new FhirError(401, 'ACCESS_DENIED', 'Access token issuer is not trusted');
      }
    } catch (err) {
      if (err instanceof FhirError) throw err;
      throw new FhirError(401, 'ACCESS_DENIED', describeJoseError(err));
    }
    const role = payload.role, org = payload.org;
    if (typeof role !== 'string' || typeof org !== 'string') {
      throw new FhirError(401, 'ACCESS_DENIED', 'Access token has no role profile (role and org claims)');
    }
    return {
      userId: payload.sub as string, role, org,
      sessionId: typeof payload.sid === 'string' ? payload.sid : (payload.jti ?? ''),
      issuer: payload.iss as string, expiresAt: payload.exp as number,
    };
  }

  /** Reads the unverified issuer only to choose the key set; the signature is checked after. */
  private peekIssuer(token: string): string | undefined {
    const parts = token.split('.');
    if (parts.length !== 3) throw new FhirError(401, 'ACCESS_DENIED', 'Access token is not a JWT');
    try {
      const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
      return typeof claims?.iss === 'string' ? claims.iss : undefined;
    } catch {
      throw new FhirError(401, 'ACCESS_DENIED', 'Access token is not a JWT');
    }
  }
}

function describeJoseError(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'Access token has expired';
  if (err instanceof errors.JWTClaimValidationFailed) return `Access token claim '${err.claim}' is invalid`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'Access token signature is invalid';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'Access token algorithm is not allowed';
  return 'Access token is invalid';
}
