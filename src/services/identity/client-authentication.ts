import type { FastifyRequest } from 'fastify';
import { createLocalJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload } from 'jose';
import type { OAuthClient } from '../../security/accounts/clients.js';
import type { IdentityContext } from './context.js';
import { param, type Params } from './form.js';
import { OAuthError } from './oauth-errors.js';
import { auditSecurityEvent } from './security-audit.js';

export type ClientAuthMethod =
  'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

export interface AuthenticatedClient {
  client: OAuthClient;
  method: ClientAuthMethod;
}

export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
export const ASSERTION_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256'];
/** A client assertion may live at most this long (NHS APIs: exp no more than 5 minutes ahead). */
const MAX_ASSERTION_SECONDS = 300;
const CLOCK_SKEW_SECONDS = 5;

const refuse = (description: string) => new OAuthError(401, 'invalid_client', description);

/** client_secret_basic credentials (RFC 6749 2.3.1: each part form-encoded, then base64). */
function basicCredentials(header: string | undefined): { id: string; secret: string } | null {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!match) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0)
    throw new OAuthError(
      400,
      'invalid_request',
      'Basic credentials must be client_id:client_secret',
    );
  try {
    const unform = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: unform(decoded.slice(0, colon)), secret: unform(decoded.slice(colon + 1)) };
  } catch {
    throw new OAuthError(400, 'invalid_request', 'Basic credentials are not form-encoded');
  }
}

function describeAssertionError(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'client assertion has expired';
  if (err instanceof errors.JWTClaimValidationFailed)
    return `client assertion claim '${err.claim}' is missing or wrong`;
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported)
    return `client assertion algorithm must be one of ${ASSERTION_ALGORITHMS.join(', ')}`;
  if (
    err instanceof errors.JWKSNoMatchingKey ||
    err instanceof errors.JWSSignatureVerificationFailed
  )
    return 'client assertion is not signed by a key registered for this client';
  return 'client assertion is not a valid signed JWT';
}

async function byAssertion(
  ctx: IdentityContext,
  body: Params,
  claimedId: string | undefined,
): Promise<AuthenticatedClient> {
  if (param(body, 'client_assertion_type') !== JWT_BEARER)
    throw new OAuthError(400, 'invalid_request', `client_assertion_type must be ${JWT_BEARER}`);
  const assertion = param(body, 'client_assertion')!;
  if (assertion.length > 16_384) throw refuse('client assertion is too large');
  let unverified: JWTPayload;
  try {
    unverified = decodeJwt(assertion);
  } catch {
    throw refuse('client assertion is not a JWT');
  }
  const id = typeof unverified.iss === 'string' ? unverified.iss : '';
  if (claimedId !== undefined && claimedId !== id)
    throw refuse('client_id does not match the client assertion issuer');
  const client = id ? await ctx.clients.get(id) : null;
  if (!client?.jwks)
    throw refuse('no client with registered public keys matches the client assertion issuer');
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(assertion, createLocalJWKSet(client.jwks), {
      issuer: client.id,
      subject: client.id,
      audience: ctx.tokenUrl,
      algorithms: ASSERTION_ALGORITHMS,
      requiredClaims: ['exp', 'jti'],
      clockTolerance: CLOCK_SKEW_SECONDS,
    }));
  } catch (err) {
    throw refuse(describeAssertionError(err));
  }
  const now = Math.floor(Date.now() / 1000);
  if (payload.exp! > now + MAX_ASSERTION_SECONDS + CLOCK_SKEW_SECONDS)
    throw refuse('client assertion exp is more than 5 minutes ahead');
  if (typeof payload.jti !== 'string' || payload.jti.length > 256)
    throw refuse('client assertion jti must be a string');
  if (!(await ctx.sessions.recordAssertion(client.id, payload.jti, payload.exp!)))
    throw refuse('client assertion jti has been used before (replay)');
  return { client, method: 'private_key_jwt' };
}

async function authenticate(
  ctx: IdentityContext,
  request: FastifyRequest,
  body: Params,
): Promise<AuthenticatedClient> {
  const basic = basicCredentials(request.headers.authorization);
  const clientId = param(body, 'client_id');
  const secret = param(body, 'client_secret');
  const hasAssertion = param(body, 'client_assertion') !== undefined;
  if ([basic !== null, secret !== undefined, hasAssertion].filter(Boolean).length > 1) {
    throw new OAuthError(400, 'invalid_request', 'use exactly one client authentication method');
  }
  if (hasAssertion) return byAssertion(ctx, body, clientId);
  if (basic) {
    if (clientId !== undefined && clientId !== basic.id)
      throw refuse('client_id does not match the Basic credentials');
    const client = await ctx.clients.authenticateWithSecret(basic.id, basic.secret);
    if (!client) throw refuse('client id or secret is wrong');
    return { client, method: 'client_secret_basic' };
  }
  if (!clientId) throw refuse('client authentication is required (client_id)');
  if (secret !== undefined) {
    const client = await ctx.clients.authenticateWithSecret(clientId, secret);
    if (!client) throw refuse('client id or secret is wrong');
    return { client, method: 'client_secret_post' };
  }
  const client = await ctx.clients.get(clientId);
  if (!client) throw refuse('unknown client');
  // only a public client (no secret, no keys registered) may identify itself by id alone
  if (client.secretHash || client.jwks)
    throw refuse('this client must authenticate (client secret or private_key_jwt)');
  return { client, method: 'none' };
}

/**
 * Authenticates the client calling the token endpoint, by private_key_jwt, client_secret_basic,
 * client_secret_post, or (public portal clients, which rely on PKCE) client_id alone. The client
 * must be active and not on the revocation list. Every refusal is audited.
 */
export async function authenticateClient(
  ctx: IdentityContext,
  request: FastifyRequest,
  body: Params,
): Promise<AuthenticatedClient> {
  try {
    const result = await authenticate(ctx, request, body);
    if (
      result.client.status !== 'active' ||
      (await ctx.revocations.isRevoked({ client: result.client.id }))
    )
      throw refuse('client has been revoked');
    return result;
  } catch (err) {
    if (err instanceof OAuthError && err.error === 'invalid_client') {
      const claimed = typeof body.client_id === 'string' ? body.client_id.slice(0, 64) : undefined;
      await auditSecurityEvent(
        ctx.repo,
        request,
        'client-authentication',
        `refused: ${err.description}`,
        null,
        {
          claimedClient: claimed,
          grantType: typeof body.grant_type === 'string' ? body.grant_type : undefined,
        },
      );
    }
    throw err;
  }
}
