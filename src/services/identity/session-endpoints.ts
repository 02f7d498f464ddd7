import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { sha256 } from '../../security/accounts/records.js';
import { EMBEDDED_ISSUER, TOKEN_ALG } from '../../security/embedded-idp.js';
import { roleName } from '../../security/policy.js';
import { acceptedPublicJwks } from '../../security/signing-keys.js';
import type { Principal } from '../../security/principal.js';
import { principalFromClaims } from '../../security/token-verifier.js';
import type { IdentityContext } from './context.js';
import { param } from './form.js';
import { OAuthError, oauthForm } from './oauth-errors.js';
import { auditSecurityEvent } from './security-audit.js';

const SESSION_ID = /^[0-9a-f-]{36}$/;

/** Verifies an access token this provider issued; null when it is not one, or has expired. */
async function verifyOwnToken(
  ctx: IdentityContext,
  keys: ReturnType<typeof createLocalJWKSet>,
  token: string,
): Promise<{ claims: JWTPayload; principal: Principal } | null> {
  if (token.length > 8192) return null;
  try {
    const { payload } = await jwtVerify(token, keys, {
      issuer: [ctx.issuer, EMBEDDED_ISSUER],
      audience: ctx.config.audience,
      algorithms: [TOKEN_ALG],
      requiredClaims: ['exp', 'sub'],
    });
    return { claims: payload, principal: principalFromClaims(payload) };
  } catch {
    return null;
  }
}

/** Ends the session a refresh token belongs to, if it is that session's current token. */
async function revokeRefreshToken(ctx: IdentityContext, token: string): Promise<string | null> {
  const [sessionId, secret] = token.split('~');
  if (!SESSION_ID.test(sessionId ?? '') || !secret) return null;
  const session = await ctx.sessions.get(sessionId);
  if (!session || sha256(secret) !== session.refreshHash) return null;
  await ctx.sessions.end(session.id);
  await ctx.revocations.revoke(
    { session: session.id },
    'token revoked by the client',
    'identity-provider',
  );
  return session.id;
}

function bearer(request: FastifyRequest): string {
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(request.headers.authorization ?? '');
  if (!match) throw new OAuthError(401, 'invalid_token', 'a Bearer access token is required');
  return match[1];
}

/**
 * POST /oauth2/revoke (RFC 7009) ends the session of a refresh token or of an access token, and
 * puts the session on the revocation list so its access tokens stop working on every node.
 * Possession of the token is the proof: an unknown or expired token is answered 200 as well.
 * GET|POST /oauth2/userinfo returns who the token's user is and their selected role profile.
 */
export function sessionRoutes(ctx: IdentityContext) {
  const keys = createLocalJWKSet({ keys: acceptedPublicJwks(ctx.signingKey) });
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post('/revoke', { config: { public: true } }, async (request, reply) => {
      const body = oauthForm(request);
      const token = param(body, 'token');
      if (!token) throw new OAuthError(400, 'invalid_request', 'token is required');
      let sessionId = token.includes('~') ? await revokeRefreshToken(ctx, token) : null;
      let actor: Principal | null = null;
      if (!sessionId && token.split('.').length === 3) {
        const own = await verifyOwnToken(ctx, keys, token);
        if (own?.principal.sessionId) {
          actor = own.principal;
          sessionId = own.principal.sessionId;
          await ctx.sessions.end(sessionId);
          await ctx.revocations.revoke(
            { session: sessionId },
            'token revoked by the client',
            'identity-provider',
          );
        }
      }
      if (sessionId)
        await auditSecurityEvent(ctx.repo, request, 'token.revoke', 'session revoked', actor, {
          sessionId,
        });
      return reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' }).code(200).send();
    });

    const userinfo = async (request: FastifyRequest, reply: FastifyReply) => {
      const own = await verifyOwnToken(ctx, keys, bearer(request));
      if (!own || own.principal.kind !== 'user')
        throw new OAuthError(401, 'invalid_token', 'the access token is not valid for userinfo');
      if (await ctx.revocations.isPrincipalRevoked(own.principal))
        throw new OAuthError(401, 'invalid_token', 'the access token has been revoked');
      const { principal, claims } = own;
      const profileId =
        typeof claims.role_profile_id === 'string' ? claims.role_profile_id : undefined;
      return reply
        .headers({ 'cache-control': 'no-store', pragma: 'no-cache' })
        .type('application/json; charset=utf-8')
        .send({
          sub: principal.userId,
          name: principal.name,
          nhsid_useruid: principal.userId,
          ...(profileId ? { selected_roleid: profileId } : {}),
          nhsid_nrbac_roles: [
            {
              ...(profileId ? { person_roleid: profileId } : {}),
              role_code: principal.role,
              role_name: roleName(principal.role),
              org_code: principal.org,
            },
          ],
        });
    };
    app.get('/userinfo', { config: { public: true } }, userinfo);
    app.post('/userinfo', { config: { public: true } }, userinfo);
  };
}
