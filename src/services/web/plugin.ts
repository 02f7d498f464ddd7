import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import view from '@fastify/view';
import { hkdfSync, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import nunjucks from 'nunjucks';
import { ClientRegistry } from '../../security/accounts/clients.js';
import { UserInputError } from '../../security/accounts/users.js';
import type { ResourceStore } from '../../store/resource-store.js';
import type { ServicePlugin } from '../service-deps.js';
import { homeRoutes } from './home-routes.js';
import { WEB_PAGES } from './pages.js';
import {
  APP_ASSETS_DIR,
  CALLBACK_PATH,
  NHSUK_DIST_DIR,
  VIEWS_DIR,
  WEB_BASE,
  WEB_CLIENT_ID,
} from './paths.js';
import { PlatformClient } from './platform-client.js';
import { signInRoutes } from './sign-in-routes.js';
import { configureTemplates } from './template-filters.js';
import type { WebContext } from './web-context.js';
import { renderErrorPage, webErrorHandler } from './web-errors.js';
import { SignInRequired } from './web-page.js';
import { WebSessionStore } from './web-session.js';

/** A sign-in session at the identity provider lasts 12 hours: so does the application's. */
const SESSION_SECONDS = 12 * 3600;
const ASSET_TYPES = new Set(['.css', '.js', '.map', '.svg', '.png', '.ico', '.json', '.woff2']);

/** Registers the application as a sign-in client of the identity provider (idempotently, any node). */
async function ensureWebClient(repo: ResourceStore, redirectUri: string): Promise<void> {
  const clients = new ClientRegistry(repo);
  if (!(await clients.get(WEB_CLIENT_ID))) {
    try {
      await clients.add({
        id: WEB_CLIENT_ID,
        name: 'OpenSpine web application',
        kind: 'portal',
        redirectUris: [redirectUri],
      });
    } catch (err) {
      // another node registered it first
      if (!(err instanceof UserInputError)) throw err;
    }
  }
  await clients.addRedirectUri(WEB_CLIENT_ID, redirectUri);
}

/** Serves one of nhsuk-frontend's or the application's static files, or a 404 page. */
function assetRoute(roots: string[]) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const file = normalize((req.params as { '*': string })['*'] ?? '');
    if (file.startsWith('..') || !ASSET_TYPES.has(extname(file)))
      return renderErrorPage(req, reply, { status: 404, messages: [] });
    const root = roots.find((r) => existsSync(join(r, file)));
    if (!root) return renderErrorPage(req, reply, { status: 404, messages: [] });
    reply.header('cache-control', 'public, max-age=3600');
    return reply.sendFile(file, root);
  };
}

/**
 * The Spine web application at /app: server-rendered pages on the NHS design system, for staff
 * (smartcard sign-in, then a role) and patients (NHS login). It is a client of the platform's own
 * APIs: it never reads the store for patient data, so every page passes the platform's access
 * control, relationship checks and audit, as any supplier system does.
 */
export const webPlugin: ServicePlugin = async (app, deps) => {
  const secure = deps.publicUrl.startsWith('https:');
  const sessions = new WebSessionStore(deps.store, deps.config.webSessionIdleSeconds);
  const ctx: WebContext = {
    client: new PlatformClient(app, sessions),
    sessions,
    publicUrl: deps.publicUrl,
    sessionCookie: secure ? '__Host-openspine-session' : 'openspine-session',
    cookieOptions: { path: '/', httpOnly: true, sameSite: 'lax', secure },
    sessionSeconds: SESSION_SECONDS,
    deps,
  };
  await ensureWebClient(deps.store, `${deps.publicUrl}${CALLBACK_PATH}`);
  const keyOf = (purpose: string) =>
    Buffer.from(
      hkdfSync('sha256', String(deps.signingKey.privateJwk.d), 'openspine-web', purpose, 32),
    );

  app.get('/', { config: { public: true } }, async (_req, reply) => reply.redirect(WEB_BASE, 302));

  await app.register(
    async (web: FastifyInstance) => {
      web.decorateRequest('webSignedIn', null);
      web.decorateRequest('webCorrelationId', '');
      await web.register(cookie, { secret: keyOf('cookie signing').toString('base64') });
      await web.register(formbody, { bodyLimit: 65_536 });
      await web.register(csrf, {
        sessionPlugin: '@fastify/cookie',
        cookieKey: secure ? '__Host-openspine-csrf' : 'openspine-csrf',
        cookieOpts: { ...ctx.cookieOptions, signed: true },
        // a form token is good only in the session it was issued in
        csrfOpts: { userInfo: true, hmacKey: keyOf('form tokens') },
        getUserInfo: (req) => req.webSignedIn?.session.id ?? 'signed-out',
      });
      await web.register(view, {
        engine: { nunjucks },
        templates: [VIEWS_DIR, NHSUK_DIST_DIR],
        options: { onConfigure: configureTemplates, trimBlocks: true, lstripBlocks: true },
      });
      await web.register(fastifyStatic, { root: APP_ASSETS_DIR, serve: false });

      web.addHook('onRequest', async (req) => {
        req.webCorrelationId = randomUUID();
      });
      // the session, then the audience check, then (on posts) the form token
      web.addHook('preHandler', async (req) => {
        const audience = req.routeOptions.config.webAudience;
        const secret = req.cookies[ctx.sessionCookie];
        const session = secret ? await sessions.get(secret) : null;
        req.webSignedIn = session && secret ? { session, secret } : null;
        // a page for anyone, or one that does not exist (the 404 page shows whoever is signed in)
        if (audience === 'anyone' || req.is404) return;
        if (!session) throw new SignInRequired('sign in to see this page');
        const kind = session.user.kind;
        if (
          (audience === 'staff' && kind !== 'staff') ||
          (audience === 'patient' && kind !== 'patient')
        )
          throw Object.assign(new Error('this page is not for your kind of account'), {
            statusCode: 403,
          });
        await sessions.touch(session);
      });
      web.addHook('preHandler', (req, reply, done) => {
        // signing out of a session that has already ended (idle) changes nothing worth forging
        const endedSignOut = req.url === `${WEB_BASE}/sign-out` && !req.webSignedIn;
        if (req.method === 'POST' && !endedSignOut) web.csrfProtection(req, reply, done);
        else done();
      });
      web.setErrorHandler(webErrorHandler);
      web.setNotFoundHandler((req, reply) =>
        renderErrorPage(req, reply, { status: 404, messages: [] }),
      );

      const assets = { config: { public: true, webAudience: 'anyone' as const } };
      web.get(
        '/assets/nhsuk/*',
        assets,
        assetRoute([join(NHSUK_DIST_DIR, 'nhsuk'), join(NHSUK_DIST_DIR, 'nhsuk/assets')]),
      );
      web.get('/assets/app/*', assets, assetRoute([APP_ASSETS_DIR]));

      await web.register(homeRoutes(ctx));
      await web.register(signInRoutes(ctx));
      for (const pages of WEB_PAGES) await web.register(pages(ctx));
    },
    { prefix: WEB_BASE },
  );
};
