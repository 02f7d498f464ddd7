import formbody from '@fastify/formbody';
import type { FastifyInstance } from 'fastify';
import type { ServiceDeps } from '../service-deps.js';
import { authorizeRoutes } from './authorize.js';
import { USER_SCOPES } from './authorize-request.js';
import { ASSERTION_ALGORITHMS } from './client-authentication.js';
import { identityContext } from './context.js';
import { devCallbackRoutes } from './dev-callback.js';
import { parseForm } from './form.js';
import { registerOAuthErrorHandler } from './oauth-errors.js';
import { sessionRoutes } from './session-endpoints.js';
import { tokenRoutes } from './token-endpoint.js';
import { acceptedPublicJwks } from '../../security/signing-keys.js';

/** The issuer name of tokens from the embedded identity provider's OIDC flows. */
export function oidcIssuer(publicUrl: string): string {
  return `${publicUrl}/oauth2`;
}

/**
 * The embedded identity provider in the shape of NHS CIS2: OIDC discovery, the key set, and under
 * /oauth2 the sign-in pages and the token, revocation and userinfo endpoints.
 */
export function identityRoutes(
  deps: Pick<ServiceDeps, 'store' | 'signingKey' | 'config' | 'revocations' | 'metrics'>,
) {
  const issuer = oidcIssuer(deps.config.publicUrl);
  const { store: repo, signingKey, config, revocations } = deps;
  const signals = deps.metrics ?? undefined;
  const ctx = identityContext({ repo, signingKey, config, revocations, issuer, signals });
  return async function plugin(app: FastifyInstance): Promise<void> {
    // the current key and the retired ones still in their overlap (openspine keys rotate)
    app.get('/.well-known/jwks.json', { config: { public: true } }, async () => ({
      keys: acceptedPublicJwks(deps.signingKey),
    }));
    app.get('/.well-known/openid-configuration', { config: { public: true } }, async () => ({
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      revocation_endpoint: `${issuer}/revoke`,
      userinfo_endpoint: `${issuer}/userinfo`,
      jwks_uri: `${deps.config.publicUrl}/.well-known/jwks.json`,
      response_types_supported: ['code'],
      grant_types_supported: ['authorization_code', 'refresh_token', 'client_credentials'],
      code_challenge_methods_supported: ['S256'],
      token_endpoint_auth_methods_supported: [
        'none',
        'client_secret_post',
        'client_secret_basic',
        'private_key_jwt',
      ],
      token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGORITHMS,
      id_token_signing_alg_values_supported: ['ES256'],
      subject_types_supported: ['public'],
      scopes_supported: USER_SCOPES,
    }));

    // form bodies are parsed in this scope only: the FHIR APIs keep their JSON-only parsers
    await app.register(
      async (oauth) => {
        await oauth.register(formbody, { bodyLimit: 65_536, parser: parseForm });
        registerOAuthErrorHandler(oauth);
        await oauth.register(authorizeRoutes(ctx));
        await oauth.register(tokenRoutes(ctx));
        await oauth.register(sessionRoutes(ctx));
        await oauth.register(devCallbackRoutes(ctx));
      },
      { prefix: '/oauth2' },
    );
  };
}
