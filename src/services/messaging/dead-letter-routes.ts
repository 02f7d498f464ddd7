import type { FastifyInstance } from 'fastify';
import { FhirError } from '../../fhir/errors.js';
import type { ServiceDeps } from '../service-deps.js';
import { deadLetterAudit as auditOf } from './dead-letter-audit.js';
import { deadLetterId, parseDeadLetterQuery } from './dead-letter-query.js';
import { described, pathParams } from '../route-schemas.js';

export const MESSAGING_BASE = '/messaging';

/**
 * Dead-letter administration (activity messaging.admin): list, read, and replay a dead letter to
 * its consumer. Plain JSON bodies (docs/messaging.md); errors are OperationOutcomes.
 */
export function deadLetterRoutes({ store: repo }: Pick<ServiceDeps, 'store'>) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    const config = { fhirApi: true, activity: 'messaging.admin' } as const;

    const listQuery = described({ consumer: 'a consumer name', _count: 'how many to list' });
    app.get('/dead-letters', { schema: { querystring: listQuery }, config }, async (req) => {
      const query = parseDeadLetterQuery(req.query as Record<string, unknown>);
      const letters = await repo.messaging.listDeadLetters(query);
      await repo.commit({
        audit: auditOf(req.ctx, 'messaging.dead-letters.list', letters, {
          consumer: query.consumer,
          count: letters.length,
        }),
      });
      return { deadLetters: letters, count: letters.length };
    });

    app.get<{ Params: { id: string } }>(
      '/dead-letters/:id',
      { schema: { params: pathParams('id') }, config },
      async (req) => {
        const id = deadLetterId(req.params.id);
        const letter = await repo.messaging.readDeadLetter(id);
        if (!letter) throw new FhirError(404, 'RESOURCE_NOT_FOUND', `No dead letter ${id}`);
        await repo.commit({
          audit: auditOf(req.ctx, 'messaging.dead-letters.read', [letter], {
            deadLetter: id,
            consumer: letter.consumer,
          }),
        });
        return letter;
      },
    );

    app.post<{ Params: { id: string } }>(
      '/dead-letters/:id/$replay',
      { schema: { params: pathParams('id') }, config },
      async (req) => {
        const id = deadLetterId(req.params.id);
        const letter = await repo.messaging.readDeadLetter(id);
        if (!letter) throw new FhirError(404, 'RESOURCE_NOT_FOUND', `No dead letter ${id}`);
        const audit = auditOf(req.ctx, 'messaging.dead-letters.replay', [letter], {
          deadLetter: id,
          consumer: letter.consumer,
          messageId: letter.message.id,
        });
        const outcome = await repo.messaging.replayDeadLetter(id, audit);
        if (outcome === 'not-found')
          throw new FhirError(404, 'RESOURCE_NOT_FOUND', `No dead letter ${id}`);
        if (outcome === 'already-replayed') {
          const replayedAt = (await repo.messaging.readDeadLetter(id))?.replayedAt;
          throw new FhirError(
            409,
            'DUPLICATE_REJECTED',
            `Dead letter ${id} was already replayed${replayedAt ? ' at ' + replayedAt : ''}`,
          );
        }
        return (await repo.messaging.readDeadLetter(id))!;
      },
    );
  };
}
