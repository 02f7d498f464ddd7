import type { FastifyInstance } from 'fastify';
import type { ServiceDeps } from '../service-deps.js';
import { deadLetterId, parseDeadLetterQuery } from './dead-letter-query.js';
import { listDeadLetters, readDeadLetter, replayDeadLetter } from './dead-letter-service.js';
import { described, pathParams } from '../route-schemas.js';

export const MESSAGING_BASE = '/messaging';

/**
 * Dead-letter administration (activity messaging.admin): list, read, and replay a dead letter to
 * its consumer. Plain JSON bodies (docs/messaging.md); errors are OperationOutcomes.
 */
export function deadLetterRoutes({ store }: Pick<ServiceDeps, 'store'>) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const config = { fhirApi: true, activity: 'messaging.admin' } as const;

    const listQuery = described({ consumer: 'a consumer name', _count: 'how many to list' });
    app.get('/dead-letters', { schema: { querystring: listQuery }, config }, async (req) => {
      const query = parseDeadLetterQuery(req.query as Record<string, unknown>);
      const letters = await listDeadLetters(store, req.ctx, query);
      return { deadLetters: letters, count: letters.length };
    });

    app.get<{ Params: { id: string } }>(
      '/dead-letters/:id',
      { schema: { params: pathParams('id') }, config },
      async (req) => readDeadLetter(store, req.ctx, deadLetterId(req.params.id)),
    );

    app.post<{ Params: { id: string } }>(
      '/dead-letters/:id/$replay',
      { schema: { params: pathParams('id') }, config },
      async (req) => replayDeadLetter(store, req.ctx, deadLetterId(req.params.id)),
    );
  };
}
