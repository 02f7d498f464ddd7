import type { FastifyInstance, FastifyRequest } from 'fastify';
import { mintApplicationToken } from '../../security/embedded-idp.js';
import { authenticateClient, type AuthenticatedClient } from './client-authentication.js';
import type { IdentityContext } from './context.js';
import { param, type Params } from './form.js';
import { OAuthError, oauthForm } from './oauth-errors.js';
import { auditSecurityEvent } from './security-audit.js';
import { authorizationCodeGrant, refreshTokenGrant, type TokenResponse } from './user-grants.js';

const GRANTS = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
type Grant = (typeof GRANTS)[number];

/** client_credentials: an application's token, carrying the scopes it asks for (all registered ones by default). */
async function clientCredentialsGrant(
  ctx: IdentityContext,
  request: FastifyRequest,
  body: Params,
  { client, method }: AuthenticatedClient,
): Promise<TokenResponse> {
  if (client.kind !== 'application')
    throw new OAuthError(
      400,
      'unauthorized_client',
      'only an application may use client_credentials',
    );
  const requested = (param(body, 'scope') ?? '').split(' ').filter(Boolean);
  const unknown = requested.filter((s) => !(client.scopes as readonly string[]).includes(s));
  if (unknown.length)
    throw new OAuthError(
      400,
      'invalid_scope',
      `not registered for this application: ${unknown.join(' ').slice(0, 200)}`,
    );
  const scopes = requested.length ? [...new Set(requested)] : client.scopes;
  if (scopes.length === 0)
    throw new OAuthError(400, 'invalid_scope', 'the application has no registered scopes');
  const token = await mintApplicationToken(ctx.signingKey, {
    clientId: client.id,
    name: client.name,
    org: client.org,
    scopes,
    audience: ctx.config.audience,
    issuer: ctx.issuer,
    ttlSeconds: ctx.config.accessTokenSeconds,
    accessMode: client.accessMode ?? 'application-restricted',
  });
  await auditSecurityEvent(
    ctx.repo,
    request,
    'token.issue',
    'issued',
    { kind: 'application', userId: client.id, name: client.name, role: '', org: client.org },
    { grantType: 'client_credentials', clientId: client.id, method, scopes },
  );
  return {
    access_token: token,
    token_type: 'Bearer',
    expires_in: ctx.config.accessTokenSeconds,
    scope: scopes.join(' '),
  };
}

/** POST /oauth2/token (RFC 6749 section 3.2): form in, OAuth JSON out, never cached. */
export function tokenRoutes(ctx: IdentityContext) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post('/token', { config: { public: true } }, async (request, reply) => {
      const body = oauthForm(request);
      const grant = param(body, 'grant_type');
      if (!grant) throw new OAuthError(400, 'invalid_request', 'grant_type is required');
      if (!(GRANTS as readonly string[]).includes(grant))
        throw new OAuthError(
          400,
          'unsupported_grant_type',
          `grant_type must be one of ${GRANTS.join(', ')}`,
        );
      const authenticated = await authenticateClient(ctx, request, body);
      let answer: TokenResponse;
      switch (grant as Grant) {
        case 'authorization_code':
          answer = await authorizationCodeGrant(ctx, request, body, authenticated.client);
          break;
        case 'refresh_token':
          answer = await refreshTokenGrant(ctx, request, body, authenticated.client);
          break;
        case 'client_credentials':
          answer = await clientCredentialsGrant(ctx, request, body, authenticated);
          break;
      }
      return reply
        .headers({ 'cache-control': 'no-store', pragma: 'no-cache' })
        .type('application/json; charset=utf-8')
        .send(answer);
    });
  };
}
