import type { ClientRegistry, OAuthClient } from '../../security/accounts/clients.js';
import type { RevocationList } from '../../security/accounts/revocations.js';
import { param, RepeatedParameterError, type Params } from './form.js';
import { PageError } from './oauth-errors.js';

/** The scopes this provider knows; others asked for are ignored (RFC 6749 3.3 lets the server narrow). */
export const USER_SCOPES = ['openid', 'profile', 'nationalrbacaccess'] as const;

/** A validated authorization request, carried through the sign-in steps. */
export interface AuthorizeRequest {
  clientId: string;
  redirectUri: string;
  state: string;
  nonce?: string;
  codeChallenge: string;
  scope: string;
}

export type AuthorizeOutcome =
  { ok: true; request: AuthorizeRequest; client: OAuthClient } | { ok: false; redirect: string };

/** The client's redirect URI with the OAuth answer added to its query. */
export function redirectWith(
  redirectUri: string,
  values: Record<string, string | undefined>,
): string {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(values)) if (v !== undefined) url.searchParams.set(k, v);
  return url.toString();
}

const PRINTABLE = /^[\x20-\x7e]{1,1024}$/;
const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

/** An active, unrevoked portal client with this id, or null. */
export async function activePortal(
  clients: ClientRegistry,
  revocations: RevocationList,
  clientId: string,
): Promise<OAuthClient | null> {
  const client = await clients.get(clientId);
  if (!client || client.kind !== 'portal' || client.status !== 'active') return null;
  return (await revocations.isRevoked({ client: client.id })) ? null : client;
}

/**
 * Checks an authorization request. The client and its redirect URI are checked first and, when
 * wrong, answered with an error page and never a redirect (RFC 6749 4.1.2.1: an unverified
 * redirect URI would make this an open redirector). Other faults go back to the client.
 */
export async function validateAuthorize(
  params: Params,
  clients: ClientRegistry,
  revocations: RevocationList,
): Promise<AuthorizeOutcome> {
  let clientId: string | undefined, redirectUri: string | undefined;
  try {
    clientId = param(params, 'client_id');
    redirectUri = param(params, 'redirect_uri');
  } catch (err) {
    if (err instanceof RepeatedParameterError)
      throw new PageError(400, 'Sign-in request is not valid', err.message);
    throw err;
  }
  if (!clientId)
    throw new PageError(
      400,
      'Sign-in request is not valid',
      'The request does not name the application (client_id).',
    );
  const client = await activePortal(clients, revocations, clientId);
  if (!client)
    throw new PageError(
      400,
      'Sign-in request is not valid',
      'The application asking you to sign in is not registered for sign-in.',
    );
  if (!redirectUri || !client.redirectUris.includes(redirectUri)) {
    throw new PageError(
      400,
      'Sign-in request is not valid',
      'The return address (redirect_uri) is not one registered for this application.',
    );
  }
  let state: string | undefined;
  const fail = (error: string, description: string): AuthorizeOutcome => ({
    ok: false,
    redirect: redirectWith(redirectUri!, { error, error_description: description, state }),
  });
  try {
    state = param(params, 'state');
    if (state !== undefined && !PRINTABLE.test(state)) {
      state = undefined;
      return fail('invalid_request', 'state is too long or has unprintable characters');
    }
    const responseType = param(params, 'response_type');
    const scope = param(params, 'scope');
    const nonce = param(params, 'nonce');
    const challenge = param(params, 'code_challenge');
    const method = param(params, 'code_challenge_method');
    if (responseType !== 'code')
      return fail('unsupported_response_type', 'response_type must be code');
    if (!state) return fail('invalid_request', 'state is required');
    const scopes = (scope ?? '').split(' ').filter(Boolean);
    if (!scopes.includes('openid')) return fail('invalid_scope', 'scope must include openid');
    if (nonce !== undefined && !PRINTABLE.test(nonce))
      return fail('invalid_request', 'nonce is too long or has unprintable characters');
    if (!challenge) return fail('invalid_request', 'code_challenge is required (PKCE)');
    if (method !== 'S256') return fail('invalid_request', 'code_challenge_method must be S256');
    if (!S256_CHALLENGE.test(challenge))
      return fail(
        'invalid_request',
        'code_challenge must be a base64url SHA-256 hash (43 characters)',
      );
    const granted = USER_SCOPES.filter((s) => scopes.includes(s)).join(' ');
    return {
      ok: true,
      client,
      request: {
        clientId,
        redirectUri,
        state,
        ...(nonce ? { nonce } : {}),
        codeChallenge: challenge,
        scope: granted,
      },
    };
  } catch (err) {
    if (err instanceof RepeatedParameterError) return fail('invalid_request', err.message);
    throw err;
  }
}
