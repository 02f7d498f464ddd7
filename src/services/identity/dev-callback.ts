import type { FastifyInstance } from 'fastify';
import type { IdentityContext } from './context.js';
import { param, type Params } from './form.js';
import { escapeHtml, renderPage, sendHtml } from './html.js';

/** The client id of the demo portal `serve --demo` registers, whose redirect URI is this page. */
export const DEV_PORTAL_CLIENT = 'openspine-dev-portal';
export const DEV_CALLBACK_PATH = '/oauth2/dev-callback';

/** Quotes a value for a POSIX shell (single quotes; an embedded quote closes, escapes, reopens). */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * A development page to land on after signing in by hand: it shows the code and state it received
 * and the curl line that exchanges the code for tokens (the developer supplies their code_verifier).
 */
export function devCallbackRoutes(ctx: IdentityContext) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get('/dev-callback', { config: { public: true } }, async (request, reply) => {
      const query = request.query as Params;
      const code = param(query, 'code') ?? '';
      const state = param(query, 'state') ?? '';
      const error = param(query, 'error');
      if (error) {
        const description = param(query, 'error_description') ?? '';
        return sendHtml(
          reply,
          200,
          renderPage(
            'Sign-in did not complete',
            `<p class="error">${escapeHtml(error)}: ${escapeHtml(description)}</p><p>state: <code>${escapeHtml(state)}</code></p>`,
          ),
        );
      }
      const curl = [
        `curl -s -X POST ${shellQuote(ctx.tokenUrl)}`,
        '-d grant_type=authorization_code',
        `--data-urlencode client_id=${DEV_PORTAL_CLIENT}`,
        `--data-urlencode ${shellQuote(`code=${code}`)}`,
        `--data-urlencode ${shellQuote(`redirect_uri=${ctx.config.publicUrl}${DEV_CALLBACK_PATH}`)}`,
        '--data-urlencode "code_verifier=$CODE_VERIFIER"',
      ].join(' \\\n  ');
      return sendHtml(
        reply,
        200,
        renderPage(
          'Signed in: exchange the code',
          `
<p>code: <code>${escapeHtml(code)}</code><br>state: <code>${escapeHtml(state)}</code></p>
<p>The code works once, for 60 seconds. Exchange it for tokens, with CODE_VERIFIER set to the verifier whose S256 hash you sent as code_challenge:</p>
<pre>${escapeHtml(curl)}</pre>`,
        ),
      );
    });
  };
}
