import type { FastifyInstance } from 'fastify';
import type { WebContext } from './web-context.js';
import { renderPage } from './web-page.js';

/** The accessibility statement every public sector service publishes (linked from the footer). */
export function accessibilityPages(_ctx: WebContext) {
  return async function plugin(web: FastifyInstance): Promise<void> {
    web.get(
      '/accessibility',
      { config: { public: true, webAudience: 'anyone' } },
      async (req, reply) =>
        renderPage(req, reply, 200, 'pages/accessibility.njk', {
          title: 'Accessibility statement',
        }),
    );
  };
}
