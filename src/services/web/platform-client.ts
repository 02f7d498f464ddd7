import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { WEB_CLIENT_ID } from './paths.js';
import type { SessionTokens, WebSession, WebSessionStore } from './web-session.js';

/** What a page asks of the platform: one call to one of its HTTP APIs, as the signed-in user. */
export interface ApiRequest {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path and query on this platform, e.g. `/personal-demographics/FHIR/R4/Patient/9000000009`. */
  url: string;
  headers?: Record<string, string>;
  /** A JSON body (sent as application/fhir+json unless headers say otherwise) or a form string. */
  body?: unknown;
}

export interface ApiResponse {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
  /** The parsed JSON answer (null when the answer was not JSON). */
  body: any;
  /** The X-Request-ID the call carried: what a person quotes to the service desk. */
  requestId: string;
}

/** The platform refused or failed a call: the web error handler turns it into a page. */
export class ApiError extends Error {
  constructor(readonly response: ApiResponse) {
    super(`platform answered ${response.status}`);
  }
}

/** The session has ended (signed out elsewhere, revoked, expired): the person must sign in again. */
export class SessionEndedError extends Error {}

/** The signed-in request's session and the cookie secret its tokens are sealed under. */
export interface SignedIn {
  session: WebSession;
  secret: string;
}

const REFRESH_MARGIN_MS = 30_000;

/**
 * The web application's only way to patient data: the platform's own APIs, called in process
 * (Fastify's inject) with the user's access token. Every call therefore passes the same token
 * check, role and relationship rules, rate limits and audit as a supplier system's would.
 */
export class PlatformClient {
  /** One refresh at a time per session in this process; other nodes see the store's claim. */
  private readonly refreshing = new Map<string, Promise<SessionTokens>>();

  constructor(
    private readonly app: FastifyInstance,
    private readonly sessions: WebSessionStore,
  ) {}

  /** Calls an API as the signed-in user; the answer whatever its status. */
  async call(who: SignedIn, req: ApiRequest, correlationId?: string): Promise<ApiResponse> {
    const tokens = await this.currentTokens(who);
    const requestId = randomUUID();
    const isForm = typeof req.body === 'string';
    const res = await this.app.inject({
      method: req.method ?? 'GET',
      url: req.url,
      headers: {
        authorization: `Bearer ${tokens.accessToken}`,
        'x-request-id': requestId,
        ...(correlationId ? { 'x-correlation-id': correlationId } : {}),
        accept: 'application/fhir+json',
        ...(req.body !== undefined
          ? {
              'content-type': isForm
                ? 'application/x-www-form-urlencoded'
                : 'application/fhir+json',
            }
          : {}),
        ...req.headers,
      },
      ...(req.body !== undefined
        ? { payload: isForm ? (req.body as string) : JSON.stringify(req.body) }
        : {}),
    });
    let body: any = null;
    if (/json/.test(String(res.headers['content-type'] ?? ''))) {
      try {
        body = res.json();
      } catch {
        body = null;
      }
    }
    const answer = { status: res.statusCode, headers: res.headers, body, requestId };
    // a token the platform no longer takes (revoked, user removed): the session is over
    if (res.statusCode === 401) {
      await this.sessions.end(who.secret);
      throw new SessionEndedError('the platform no longer accepts this session');
    }
    return answer;
  }

  /** Calls an API and insists on a 2xx answer; anything else becomes the error page. */
  async expect(who: SignedIn, req: ApiRequest, correlationId?: string): Promise<ApiResponse> {
    const res = await this.call(who, req, correlationId);
    if (res.status < 200 || res.status >= 300) throw new ApiError(res);
    return res;
  }

  /** Exchanges the authorization code for tokens (the sign-in callback). */
  async redeemCode(code: string, verifier: string, redirectUri: string): Promise<TokenAnswer> {
    return this.tokenRequest({
      grant_type: 'authorization_code',
      code,
      code_verifier: verifier,
      redirect_uri: redirectUri,
      client_id: WEB_CLIENT_ID,
    });
  }

  /** Who the token's user is (the identity provider's userinfo). */
  async userinfo(accessToken: string): Promise<Record<string, any> | null> {
    const res = await this.app.inject({
      method: 'GET',
      url: '/oauth2/userinfo',
      headers: { authorization: `Bearer ${accessToken}` },
    });
    return res.statusCode === 200 ? res.json() : null;
  }

  /** Sign-out: the identity provider ends the session and revokes its tokens on every node. */
  async revoke(tokens: SessionTokens): Promise<void> {
    await this.app.inject({
      method: 'POST',
      url: '/oauth2/revoke',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({
        token: tokens.refreshToken,
        client_id: WEB_CLIENT_ID,
      }).toString(),
    });
  }

  private async currentTokens(who: SignedIn): Promise<SessionTokens> {
    if (who.session.tokens.accessExpiresAt - Date.now() > REFRESH_MARGIN_MS)
      return who.session.tokens;
    let pending = this.refreshing.get(who.session.id);
    if (!pending) {
      pending = this.refresh(who).finally(() => this.refreshing.delete(who.session.id));
      this.refreshing.set(who.session.id, pending);
    }
    const tokens = await pending;
    who.session = { ...who.session, tokens };
    return tokens;
  }

  /**
   * Refresh tokens rotate, and the identity provider ends a session whose old refresh token comes
   * back, so exactly one request may present it: the one whose claim the store accepts. The others
   * wait for the tokens it stores.
   */
  private async refresh(who: SignedIn): Promise<SessionTokens> {
    const deadline = Date.now() + 12_000;
    let session: WebSession | null = who.session;
    while (Date.now() < deadline) {
      if (!session) throw new SessionEndedError('the session has ended');
      if (session.tokens.accessExpiresAt - Date.now() > REFRESH_MARGIN_MS) return session.tokens;
      const claimed =
        (session.refreshingUntil ?? 0) > Date.now()
          ? null
          : await this.sessions.claimRefresh(session);
      if (claimed) {
        const answer = await this.tokenRequest({
          grant_type: 'refresh_token',
          refresh_token: claimed.tokens.refreshToken,
          client_id: WEB_CLIENT_ID,
        }).catch(() => null);
        if (!answer) {
          await this.sessions.end(who.secret);
          throw new SessionEndedError('the identity provider refused to refresh the session');
        }
        const tokens = tokensOf(answer);
        await this.sessions.saveTokens(who.secret, claimed, tokens);
        return tokens;
      }
      await new Promise((r) => setTimeout(r, 150));
      session = await this.sessions.get(who.secret);
    }
    throw new SessionEndedError('the session could not be refreshed in time');
  }

  private async tokenRequest(form: Record<string, string>): Promise<TokenAnswer> {
    const res = await this.app.inject({
      method: 'POST',
      url: '/oauth2/token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams(form).toString(),
    });
    if (res.statusCode !== 200)
      throw new SessionEndedError(`token endpoint answered ${res.statusCode}`);
    return res.json();
  }
}

export interface TokenAnswer {
  access_token: string;
  refresh_token: string;
  expires_in: number;
  id_token?: string;
}

export function tokensOf(answer: TokenAnswer): SessionTokens {
  return {
    accessToken: answer.access_token,
    refreshToken: answer.refresh_token,
    accessExpiresAt: Date.now() + answer.expires_in * 1000,
  };
}
