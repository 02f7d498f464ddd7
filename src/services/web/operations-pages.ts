import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { API } from './api-paths.js';
import { operationsView, type StatusAnswer } from './operations-view.js';
import { WEB_BASE } from './paths.js';
import { ApiError } from './platform-client.js';
import type { WebContext } from './web-context.js';
import { outcomeMessages } from './web-errors.js';
import { pageTools, redirectTo, renderPage, type PageTools } from './web-page.js';

const PAGE = '/operations';
const UUID = '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$';
const LETTER_PARAMS = {
  params: {
    type: 'object',
    properties: { id: { type: 'string', pattern: UUID } },
    required: ['id'],
  },
} as const;

interface Banner {
  /** 'success' after a replay; otherwise an error summary is shown. */
  success?: string;
  error?: string;
}

/** The page as the platform's status API answers it for the signed-in operator. */
async function showStatus(
  req: FastifyRequest,
  reply: FastifyReply,
  tools: PageTools,
  status: number,
  banner: Banner = {},
): Promise<FastifyReply> {
  // a role without messaging.admin is refused by the API: the permission page (403)
  const answer = await tools.expect({ url: `${API.messaging}/status` });
  const view = operationsView(answer.body as StatusAnswer);
  return renderPage(req, reply, status, 'pages/operations/health.njk', {
    title: 'Service health',
    ...view,
    success: banner.success,
    errorList: banner.error ? [{ text: banner.error, href: '#dead-letters' }] : [],
  });
}

/**
 * The operations journey (role R8015 Systems Support, activity messaging.admin): the platform's
 * health as GET /messaging/status reports it (store, bus, audit signer, queues, dead letters,
 * node), and replaying a dead letter with the dead-letter API.
 */
export function operationsPages(ctx: WebContext) {
  return async function plugin(web: FastifyInstance): Promise<void> {
    web.get(PAGE, { config: { public: true, webAudience: 'staff' } }, async (req, reply) => {
      const replayed = (req.query as { replayed?: unknown }).replayed === '1';
      return showStatus(req, reply, pageTools(ctx.client, req), 200, {
        success: replayed
          ? 'The message was sent back to its consumer. It shows as replayed below; ' +
            'if it fails again it becomes a new dead letter.'
          : undefined,
      });
    });

    web.post<{ Params: { id: string } }>(
      `${PAGE}/dead-letters/:id/replay`,
      { schema: LETTER_PARAMS, config: { public: true, webAudience: 'staff' } },
      async (req, reply) => {
        const tools = pageTools(ctx.client, req);
        const { id } = req.params;
        const res = await tools.call({
          method: 'POST',
          url: `${API.messaging}/dead-letters/${id}/$replay`,
        });
        if (res.status === 200) return redirectTo(reply, `${WEB_BASE}${PAGE}?replayed=1`);
        // expected refusals: replayed already (by someone else), or gone; the page says so
        if (res.status === 409 || res.status === 404) {
          const said = outcomeMessages(res.body).messages[0];
          const error =
            res.status === 409
              ? `${said ?? 'This message was already replayed'}. Nothing more was sent.`
              : 'That dead letter no longer exists. Nothing was sent.';
          return showStatus(req, reply, tools, res.status, { error });
        }
        throw new ApiError(res);
      },
    );
  };
}
