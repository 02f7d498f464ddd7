import type { FastifyInstance } from 'fastify';
import { renderPage } from './web-page.js';
import type { WebContext } from './web-context.js';

/**
 * The start page: for someone not signed in, the two ways in (smartcard for staff, NHS login for
 * patients); for someone signed in, their home page: the journeys their role reaches.
 */
export function homeRoutes(_ctx: WebContext) {
  return async function plugin(web: FastifyInstance): Promise<void> {
    web.get('/', { config: { public: true, webAudience: 'anyone' } }, async (req, reply) => {
      const user = req.webSignedIn?.session.user;
      const signedOut = (req.query as Record<string, unknown>)['signed-out'];
      if (!user)
        return renderPage(req, reply, 200, 'pages/landing.njk', {
          title: 'OpenSpine',
          signedOut: typeof signedOut === 'string' ? signedOut : undefined,
        });
      return renderPage(req, reply, 200, 'pages/home.njk', {
        title: user.kind === 'patient' ? 'Your health record' : `Welcome, ${user.name}`,
      });
    });
  };
}
