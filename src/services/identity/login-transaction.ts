import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, importJWK, jwtVerify, SignJWT } from 'jose';
import { TOKEN_ALG, type SigningKey } from '../../security/embedded-idp.js';
import { createOnce } from '../../security/accounts/records.js';
import type { ResourceStore } from '../../store/resource-store.js';
import type { AuthorizeRequest } from './authorize-request.js';

/**
 * The sign-in transaction between the pages, carried in a hidden form field as a short-lived JWT
 * signed with the provider's key: the browser holds it but cannot change it. Its own type and
 * audience keep it from ever passing as an access token. The profile step names the signed-in
 * user, so a tampered form cannot pick another user's profile, and is spent once in the store.
 */
const TX_TYPE = 'openspine-signin+jwt';
const USED_TX_TYPE = 'SignInTransaction';
const LOGIN_SECONDS = 600;
const PROFILE_SECONDS = 300;

export interface LoginTransaction {
  stage: 'login';
  request: AuthorizeRequest;
}

export interface ProfileTransaction {
  stage: 'profile';
  request: AuthorizeRequest;
  userId: string;
  authTime: number;
  id: string;
}

export type Transaction = LoginTransaction | ProfileTransaction;

export class TransactionSigner {
  private readonly keys;
  private privateKey: Promise<CryptoKey | Uint8Array> | undefined;

  constructor(
    private readonly key: SigningKey,
    private readonly issuer: string,
    private readonly repo: ResourceStore,
  ) {
    this.keys = createLocalJWKSet({ keys: [key.publicJwk] });
  }

  private get audience(): string {
    return `${this.issuer}/authorize`;
  }

  async sign(tx: Transaction): Promise<string> {
    this.privateKey ??= importJWK(this.key.privateJwk, TOKEN_ALG) as Promise<
      CryptoKey | Uint8Array
    >;
    const claims =
      tx.stage === 'login'
        ? { stage: tx.stage, req: tx.request }
        : { stage: tx.stage, req: tx.request, auth_time: tx.authTime, jti: tx.id };
    const jwt = new SignJWT(claims as unknown as Record<string, unknown>)
      .setProtectedHeader({ alg: TOKEN_ALG, kid: this.key.kid, typ: TX_TYPE })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setIssuedAt()
      .setExpirationTime(`${tx.stage === 'login' ? LOGIN_SECONDS : PROFILE_SECONDS}s`);
    if (tx.stage === 'profile') jwt.setSubject(tx.userId);
    return jwt.sign(await this.privateKey);
  }

  /** The transaction, or null when it is not one of ours, was altered, or has expired. */
  async verify(token: string | undefined): Promise<Transaction | null> {
    if (!token || token.length > 8192) return null;
    try {
      const { payload } = await jwtVerify(token, this.keys, {
        issuer: this.issuer,
        audience: this.audience,
        typ: TX_TYPE,
        algorithms: [TOKEN_ALG],
        requiredClaims: ['exp'],
      });
      const request = payload.req as AuthorizeRequest;
      if (
        !request ||
        typeof request.clientId !== 'string' ||
        typeof request.redirectUri !== 'string'
      )
        return null;
      if (payload.stage === 'login') return { stage: 'login', request };
      if (
        payload.stage === 'profile' &&
        typeof payload.sub === 'string' &&
        typeof payload.jti === 'string' &&
        typeof payload.auth_time === 'number'
      ) {
        return {
          stage: 'profile',
          request,
          userId: payload.sub,
          authTime: payload.auth_time,
          id: payload.jti,
        };
      }
      return null;
    } catch {
      return null;
    }
  }

  /** A new profile-step transaction for a user who has just signed in. */
  profileStep(request: AuthorizeRequest, userId: string): ProfileTransaction {
    return {
      stage: 'profile',
      request,
      userId,
      authTime: Math.floor(Date.now() / 1000),
      id: randomUUID(),
    };
  }

  /** Spends a profile-step transaction; false when it was spent before (a replayed form). */
  async spend(tx: ProfileTransaction): Promise<boolean> {
    return createOnce(this.repo, USED_TX_TYPE, tx.id, {
      resourceType: USED_TX_TYPE,
      id: tx.id,
      userId: tx.userId,
      usedAt: new Date().toISOString(),
    });
  }
}
