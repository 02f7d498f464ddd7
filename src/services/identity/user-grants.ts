import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { importJWK, SignJWT } from 'jose';
import type { OAuthClient } from '../../security/accounts/clients.js';
import type { Session } from '../../security/accounts/sessions.js';
import {
  PATIENT_PROFILE_ID,
  type RoleProfile,
  type SecurityUser,
} from '../../security/accounts/users.js';
import { mintPatientToken, mintToken, TOKEN_ALG } from '../../security/embedded-idp.js';
import { PATIENT_ROLE } from '../../security/policy.js';
import type { IdentityContext } from './context.js';
import { param, type Params } from './form.js';
import { OAuthError } from './oauth-errors.js';
import { auditSecurityEvent } from './security-audit.js';

/** A smartcard session lasts 12 hours; refresh tokens end with it. */
const SESSION_SECONDS = 12 * 3600;
const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const SESSION_ID = /^[0-9a-f-]{36}$/;

export type TokenResponse = Record<string, string | number>;

const badGrant = (description: string) => new OAuthError(400, 'invalid_grant', description);

function required(body: Params, name: string): string {
  const value = param(body, name);
  if (!value) throw new OAuthError(400, 'invalid_request', `${name} is required`);
  return value;
}

function requirePortal(client: OAuthClient): void {
  if (client.kind !== 'portal')
    throw new OAuthError(
      400,
      'unauthorized_client',
      'only a sign-in (portal) client may use this grant',
    );
}

/** RFC 7636 S256: BASE64URL(SHA256(verifier)) must equal the challenge. */
function pkceMatches(verifier: string, challenge: string): boolean {
  const computed = Buffer.from(createHash('sha256').update(verifier).digest('base64url'));
  const expected = Buffer.from(challenge);
  return computed.length === expected.length && timingSafeEqual(computed, expected);
}

/** The user and profile a token may still be issued for: active, not revoked, profile still held. */
async function currentProfile(
  ctx: IdentityContext,
  userId: string,
  profileId: string,
): Promise<{ user: SecurityUser; profile: RoleProfile }> {
  const user = await ctx.users.get(userId);
  if (!user || user.status !== 'active' || (await ctx.revocations.isRevoked({ user: userId })))
    throw badGrant('the user may no longer sign in');
  // a patient account's one "profile" is the patient themselves
  const profile = user.patient
    ? profileId === PATIENT_PROFILE_ID
      ? { id: PATIENT_PROFILE_ID, role: PATIENT_ROLE, org: '' }
      : undefined
    : user.roleProfiles.find((p) => p.id === profileId);
  if (!profile) throw badGrant('the role profile no longer exists');
  return { user, profile };
}

async function accessToken(
  ctx: IdentityContext,
  user: SecurityUser,
  profile: RoleProfile,
  sessionId: string,
  client: OAuthClient,
): Promise<string> {
  if (user.patient)
    return mintPatientToken(ctx.signingKey, {
      nhsNumber: user.patient.nhsNumber,
      name: user.name,
      audience: ctx.config.audience,
      ttlSeconds: ctx.config.accessTokenSeconds,
      sessionId,
      issuer: ctx.issuer,
      ...(client.scopes.length ? { appActivities: client.scopes } : {}),
    });
  return mintToken(ctx.signingKey, {
    userId: user.id,
    role: profile.role,
    org: profile.org,
    audience: ctx.config.audience,
    ttlSeconds: ctx.config.accessTokenSeconds,
    name: user.name,
    issuer: ctx.issuer,
    sessionId,
    profileId: profile.id,
    // every profile the user holds, so a request may act in another by naming it (NHSD-Session-URID)
    profiles: user.roleProfiles.map((p) => ({ id: p.id, role: p.role, org: p.org })),
    // a portal registered for some activities only: its users' tokens reach no others
    ...(client.scopes.length ? { appActivities: client.scopes } : {}),
  });
}

/**
 * The OIDC ID token: who signed in, for the client (aud = client id); it carries no role, so it
 * never works as an access token.
 */
async function idToken(
  ctx: IdentityContext,
  user: SecurityUser,
  clientId: string,
  session: Session,
  authTime: number,
  nonce: string | undefined,
): Promise<string> {
  const key = await importJWK(ctx.signingKey.privateJwk, TOKEN_ALG);
  return new SignJWT({
    auth_time: authTime,
    sid: session.id,
    name: user.name,
    ...(nonce ? { nonce } : {}),
  })
    .setProtectedHeader({ alg: TOKEN_ALG, kid: ctx.signingKey.kid, typ: 'JWT' })
    .setIssuer(ctx.issuer)
    .setSubject(user.id)
    .setAudience(clientId)
    .setIssuedAt()
    .setExpirationTime(`${ctx.config.accessTokenSeconds}s`)
    .sign(key);
}

/** Who a token is issued to, as the audit names them: a patient account's patient, as sign-in does. */
function actorOf(user: SecurityUser, profile: RoleProfile, sessionId: string) {
  return user.patient
    ? {
        kind: 'patient' as const,
        userId: user.patient.nhsNumber,
        name: user.name,
        role: profile.role,
        org: '',
        sessionId,
      }
    : {
        kind: 'user' as const,
        userId: user.id,
        name: user.name,
        role: profile.role,
        org: profile.org,
        sessionId,
      };
}

function auditIssue(
  ctx: IdentityContext,
  request: FastifyRequest,
  user: SecurityUser,
  profile: RoleProfile,
  client: OAuthClient,
  grantType: string,
  sessionId: string,
) {
  return auditSecurityEvent(
    ctx.repo,
    request,
    'token.issue',
    'issued',
    actorOf(user, profile, sessionId),
    {
      grantType,
      clientId: client.id,
      sessionId,
      profileId: profile.id,
      ...(user.patient ? { account: user.id } : {}),
    },
  );
}

/** authorization_code: a one-time code, its redirect URI, and the PKCE verifier, for a session and its tokens. */
export async function authorizationCodeGrant(
  ctx: IdentityContext,
  request: FastifyRequest,
  body: Params,
  client: OAuthClient,
): Promise<TokenResponse> {
  requirePortal(client);
  const code = required(body, 'code');
  const redirectUri = required(body, 'redirect_uri');
  const verifier = required(body, 'code_verifier');
  if (!VERIFIER.test(verifier))
    throw new OAuthError(
      400,
      'invalid_request',
      'code_verifier must be 43-128 characters of [A-Za-z0-9._~-]',
    );
  if (code.length > 256) throw badGrant('the code is unknown, expired or already used');
  // redeemed before the checks: a code presented with a wrong verifier is spent, so it cannot be guessed at
  const record = await ctx.sessions.redeemCode(code);
  if (!record) throw badGrant('the code is unknown, expired or already used');
  if (record.clientId !== client.id) throw badGrant('the code was issued to another client');
  if (record.redirectUri !== redirectUri)
    throw badGrant('redirect_uri does not match the authorization request');
  if (!pkceMatches(verifier, record.codeChallenge))
    throw badGrant('code_verifier does not match the code_challenge');
  const { user, profile } = await currentProfile(ctx, record.userId, record.profileId);
  const { session, refreshToken } = await ctx.sessions.start({
    userId: user.id,
    profileId: profile.id,
    clientId: client.id,
    ttlSeconds: SESSION_SECONDS,
  });
  const authTime = record.authTime ?? Math.floor(Date.now() / 1000);
  const [access, id] = await Promise.all([
    accessToken(ctx, user, profile, session.id, client),
    idToken(ctx, user, client.id, session, authTime, record.nonce),
  ]);
  await auditIssue(ctx, request, user, profile, client, 'authorization_code', session.id);
  return {
    access_token: access,
    token_type: 'Bearer',
    expires_in: ctx.config.accessTokenSeconds,
    refresh_token: refreshToken,
    id_token: id,
    scope: record.scope ?? 'openid',
  };
}

/** refresh_token: rotates the refresh token of a live session and issues a new access token. */
export async function refreshTokenGrant(
  ctx: IdentityContext,
  request: FastifyRequest,
  body: Params,
  client: OAuthClient,
): Promise<TokenResponse> {
  requirePortal(client);
  const presented = required(body, 'refresh_token');
  const sessionId = presented.split('~')[0];
  const session =
    SESSION_ID.test(sessionId) && presented.length < 512 ? await ctx.sessions.get(sessionId) : null;
  if (!session || session.status !== 'active')
    throw badGrant('the refresh token is unknown or its session has ended');
  if (session.clientId !== client.id)
    throw badGrant('the refresh token was issued to another client');
  if (await ctx.revocations.isRevoked({ session: session.id })) {
    await ctx.sessions.end(session.id);
    throw badGrant('the session has been revoked');
  }
  const { user, profile } = await currentProfile(ctx, session.userId, session.profileId);
  const result = await ctx.sessions.refresh(presented);
  if (!result.ok) {
    if (result.reason === 'reused') {
      // a rotated-away token came back: someone holds a copy, so the whole session goes, access tokens too
      await ctx.revocations.revoke(
        { session: session.id },
        'refresh token reused',
        'identity-provider',
      );
      await auditSecurityEvent(
        ctx.repo,
        request,
        'token.refresh',
        'refused: refresh token reused; session ended',
        actorOf(user, profile, session.id),
        { clientId: client.id, sessionId: session.id },
      );
      throw badGrant('the refresh token has already been used; the session has been ended');
    }
    throw badGrant('the refresh token is unknown or its session has ended');
  }
  const access = await accessToken(ctx, user, profile, session.id, client);
  await auditIssue(ctx, request, user, profile, client, 'refresh_token', session.id);
  return {
    access_token: access,
    token_type: 'Bearer',
    expires_in: ctx.config.accessTokenSeconds,
    refresh_token: result.refreshToken,
  };
}
