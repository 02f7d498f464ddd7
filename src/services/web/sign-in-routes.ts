import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { decodeJwt } from 'jose';
import { roleName } from '../../security/policy.js';
import { CALLBACK_PATH, WEB_BASE, WEB_CLIENT_ID } from './paths.js';
import { tokensOf, type TokenAnswer } from './platform-client.js';
import { renderErrorPage } from './web-errors.js';
import type { WebContext } from './web-context.js';
import type { WebUser } from './web-session.js';

/** The sign-in in progress: state and PKCE verifier, in a signed HttpOnly cookie for ten minutes. */
const SIGN_IN_COOKIE = 'openspine-sign-in';
const SIGN_IN_SECONDS = 600;

/** Who the tokens are for, read from the access token the identity provider has just issued. */
function userOfToken(accessToken: string): WebUser {
  const claims = decodeJwt(accessToken);
  const name = typeof claims.name === 'string' ? claims.name : String(claims.sub);
  if (claims.subject_type === 'patient') {
    const nhs = String(claims.nhs_number);
    return {
      kind: 'patient',
      userId: nhs,
      name,
      role: 'patient',
      roleName: 'Patient',
      org: '',
      nhsNumber: nhs,
    };
  }
  const role = String(claims.role ?? '');
  return {
    kind: 'staff',
    userId: String(claims.sub),
    name,
    role,
    roleName: roleName(role),
    org: String(claims.org ?? ''),
    ...(typeof claims.role_profile_id === 'string' ? { profileId: claims.role_profile_id } : {}),
  };
}

/**
 * Sign-in and sign-out. The application is an OAuth client of the platform's own identity
 * provider (authorization code with PKCE): the browser signs in there, comes back with a code,
 * and the tokens the code buys stay on the server, in the session.
 */
export function signInRoutes(ctx: WebContext) {
  const redirectUri = `${ctx.publicUrl}${CALLBACK_PATH}`;
  const fail = (req: Parameters<typeof renderErrorPage>[0], reply: FastifyReply, message: string) =>
    renderErrorPage(req, reply, {
      status: 400,
      code: 'SIGN_IN_FAILED',
      messages: [message],
      requestId: req.webCorrelationId,
    });

  return async function plugin(web: FastifyInstance): Promise<void> {
    web.get('/sign-in', { config: { public: true, webAudience: 'anyone' } }, async (req, reply) => {
      const verifier = randomBytes(32).toString('base64url');
      const state = randomBytes(16).toString('base64url');
      reply.setCookie(SIGN_IN_COOKIE, JSON.stringify({ state, verifier }), {
        ...ctx.cookieOptions,
        signed: true,
        maxAge: SIGN_IN_SECONDS,
      });
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: WEB_CLIENT_ID,
        redirect_uri: redirectUri,
        scope: 'openid profile',
        state,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      });
      return reply.header('cache-control', 'no-store').redirect(`/oauth2/authorize?${query}`, 302);
    });

    web.get(
      '/callback',
      { config: { public: true, webAudience: 'anyone' } },
      async (req, reply) => {
        const query = req.query as Record<string, unknown>;
        const raw = req.cookies[SIGN_IN_COOKIE];
        const unsigned = raw ? req.unsignCookie(raw) : null;
        reply.clearCookie(SIGN_IN_COOKIE, ctx.cookieOptions);
        if (typeof query.error === 'string')
          return fail(req, reply, `The sign-in did not complete (${query.error.slice(0, 60)}).`);
        let pending: { state?: string; verifier?: string } = {};
        try {
          pending = unsigned?.valid && unsigned.value ? JSON.parse(unsigned.value) : {};
        } catch {
          pending = {};
        }
        if (
          typeof query.code !== 'string' ||
          typeof query.state !== 'string' ||
          !pending.state ||
          pending.state !== query.state ||
          !pending.verifier
        )
          return fail(req, reply, 'This sign-in has expired or did not start here. Start again.');
        let answer: TokenAnswer;
        try {
          answer = await ctx.client.redeemCode(query.code, pending.verifier, redirectUri);
        } catch {
          return fail(req, reply, 'The sign-in code was not accepted. Start again.');
        }
        const user = userOfToken(answer.access_token);
        const secret = await ctx.sessions.start(user, tokensOf(answer), ctx.sessionSeconds);
        reply.setCookie(ctx.sessionCookie, secret, ctx.cookieOptions);
        return reply.header('cache-control', 'no-store').redirect(WEB_BASE, 303);
      },
    );

    web.post(
      '/sign-out',
      { config: { public: true, webAudience: 'anyone' } },
      async (req, reply) => {
        const who = req.webSignedIn;
        if (who) await ctx.client.revoke(who.session.tokens);
        await ctx.sessions.end(req.cookies[ctx.sessionCookie]);
        reply.clearCookie(ctx.sessionCookie, ctx.cookieOptions);
        return reply.header('cache-control', 'no-store').redirect(`${WEB_BASE}?signed-out=1`, 303);
      },
    );
  };
}
