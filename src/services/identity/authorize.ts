import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OAuthClient } from '../../security/accounts/clients.js';
import { PATIENT_PROFILE_ID, type SecurityUser } from '../../security/accounts/users.js';
import { PATIENT_ROLE } from '../../security/policy.js';
import type { IdentityContext } from './context.js';
import { activePortal, redirectWith, validateAuthorize } from './authorize-request.js';
import { formBody, param, type Params } from './form.js';
import { formTarget, noStoreHeaders, sendHtml } from './html.js';
import { loginForm, profilePicker } from './login-page.js';
import type { LoginTransaction, ProfileTransaction } from './login-transaction.js';
import { PageError } from './oauth-errors.js';
import { auditSecurityEvent } from './security-audit.js';

const WRONG_CREDENTIALS = 'The user ID or passcode is not right, or this user may not sign in.';
const TOO_MANY = 'Too many failed attempts for this user ID. Try again later.';
const EXPIRED =
  'This sign-in page has expired or is not valid. Go back to the application and start again.';

function redirect(reply: FastifyReply, url: string): FastifyReply {
  return noStoreHeaders(reply).redirect(url, 302);
}

/**
 * GET /oauth2/authorize starts the authorization code flow (with PKCE) and shows the login form;
 * POST /oauth2/authorize takes the passcode, then the chosen role profile, and sends the browser
 * back to the client with a one-time code.
 */
export function authorizeRoutes(ctx: IdentityContext) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/authorize', { config: { public: true } }, async (request, reply) => {
      const outcome = await validateAuthorize(
        request.query as Params,
        ctx.clients,
        ctx.revocations,
      );
      if (!outcome.ok) return redirect(reply, outcome.redirect);
      const tx = await ctx.transactions.sign({ stage: 'login', request: outcome.request });
      // a patient account's sign-in ends in the redirect to the client straight from this form
      return sendHtml(reply, 200, loginForm(tx, outcome.client.name), [
        formTarget(outcome.request.redirectUri),
      ]);
    });

    app.post('/authorize', { config: { public: true } }, async (request, reply) => {
      const body = formBody(request.headers['content-type'], request.body);
      if (!body)
        throw new PageError(
          400,
          'Sign-in request is not valid',
          'The sign-in form must be sent as application/x-www-form-urlencoded.',
        );
      const step = param(body, 'step');
      const rawTx = param(body, 'tx');
      const tx = await ctx.transactions.verify(rawTx);
      if (!tx) throw new PageError(400, 'Sign-in has expired', EXPIRED);
      // the client may have been revoked, or its address removed, since the sign-in began
      const client = await activePortal(ctx.clients, ctx.revocations, tx.request.clientId);
      if (!client || !client.redirectUris.includes(tx.request.redirectUri)) {
        throw new PageError(
          400,
          'Sign-in request is not valid',
          'The application asking you to sign in is no longer registered for sign-in.',
        );
      }
      if (step === 'login' && tx.stage === 'login')
        return login(ctx, request, reply, body, rawTx!, tx, client);
      if (step === 'profile' && tx.stage === 'profile')
        return chooseProfile(ctx, request, reply, body, tx);
      throw new PageError(400, 'Sign-in has expired', EXPIRED);
    });
  };
}

async function login(
  ctx: IdentityContext,
  request: FastifyRequest,
  reply: FastifyReply,
  body: Params,
  rawTx: string,
  tx: LoginTransaction,
  client: OAuthClient,
) {
  const userId = param(body, 'user')?.trim();
  const pin = param(body, 'pin');
  const again = (status: number, message: string) =>
    sendHtml(
      reply,
      status,
      loginForm(rawTx, client.name, { message, userId: userId?.slice(0, 64) }),
      [formTarget(tx.request.redirectUri)],
    );
  if (!userId || !pin || userId.length > 64 || pin.length > 256) {
    ctx.signals?.signInFailed('malformed');
    return again(401, WRONG_CREDENTIALS);
  }
  if (ctx.throttle.isBlocked(userId)) {
    ctx.signals?.signInFailed('locked');
    return again(429, TOO_MANY);
  }
  const found = await ctx.users.authenticate(userId, pin);
  const user = found && !(await ctx.revocations.isRevoked({ user: found.id })) ? found : null;
  if (!user) {
    ctx.signals?.signInFailed(found ? 'revoked' : 'wrong_credentials');
    if (ctx.throttle.recordFailure(userId)) ctx.signals?.lockedOut();
    await auditSecurityEvent(
      ctx.repo,
      request,
      'sign-in',
      'refused: wrong user ID or passcode, or user revoked',
      null,
      { claimedUser: userId, clientId: client.id },
    );
    return again(401, WRONG_CREDENTIALS);
  }
  ctx.throttle.recordSuccess(userId);
  // a patient account (NHS login) has no role to choose: it signs in as its patient
  if (user.patient) {
    const step = ctx.transactions.profileStep(tx.request, user.id);
    return issueCode(ctx, request, reply, step, user, PATIENT_PROFILE);
  }
  if (user.roleProfiles.length === 0)
    throw new PageError(
      403,
      'No role profile',
      'You have no role profiles, so you cannot sign in to this application.',
    );
  const next = await ctx.transactions.sign(ctx.transactions.profileStep(tx.request, user.id));
  // choosing a profile ends in a redirect to the client, which form-action must allow
  return sendHtml(reply, 200, profilePicker(next, user), [formTarget(tx.request.redirectUri)]);
}

async function chooseProfile(
  ctx: IdentityContext,
  request: FastifyRequest,
  reply: FastifyReply,
  body: Params,
  tx: ProfileTransaction,
) {
  const profileId = param(body, 'profile');
  const user = await ctx.users.get(tx.userId);
  if (!user || user.status !== 'active' || (await ctx.revocations.isRevoked({ user: user.id }))) {
    throw new PageError(403, 'Sign-in refused', 'This user may no longer sign in.');
  }
  // the profile must be one of the signed-in user's own (the transaction names the user, signed)
  const profile = user.roleProfiles.find((p) => p.id === profileId);
  if (!profile)
    throw new PageError(400, 'Role profile not found', 'Choose one of your own role profiles.');
  return issueCode(ctx, request, reply, tx, user, profile);
}

const PATIENT_PROFILE = { id: PATIENT_PROFILE_ID, role: PATIENT_ROLE, org: '' };

/** Spends the sign-in transaction and sends the browser back to the client with a one-time code. */
async function issueCode(
  ctx: IdentityContext,
  request: FastifyRequest,
  reply: FastifyReply,
  tx: ProfileTransaction,
  user: SecurityUser,
  profile: { id: string; role: string; org: string },
) {
  if (!(await ctx.transactions.spend(tx)))
    throw new PageError(
      400,
      'Sign-in already used',
      'This sign-in has already been completed. Go back to the application and start again.',
    );
  const { request: authz } = tx;
  const code = await ctx.sessions.issueCode({
    clientId: authz.clientId,
    redirectUri: authz.redirectUri,
    codeChallenge: authz.codeChallenge,
    userId: user.id,
    profileId: profile.id,
    ...(authz.nonce ? { nonce: authz.nonce } : {}),
    authTime: tx.authTime,
    scope: authz.scope,
  });
  await auditSecurityEvent(
    ctx.repo,
    request,
    'sign-in',
    'signed in',
    user.patient
      ? {
          kind: 'patient',
          userId: user.patient.nhsNumber,
          name: user.name,
          role: profile.role,
          org: '',
        }
      : { kind: 'user', userId: user.id, name: user.name, role: profile.role, org: profile.org },
    { clientId: authz.clientId, profileId: profile.id, method: 'passcode', account: user.id },
  );
  return redirect(reply, redirectWith(authz.redirectUri, { code, state: authz.state }));
}
