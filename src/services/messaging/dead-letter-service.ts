/**
 * Dead-letter administration's use cases: list, read and replay a dead letter, each audited with
 * the patients the letters are about. The routes (dead-letter-routes.ts) make one call here.
 */
import type { RequestContext } from '../../context.js';
import { FhirError } from '../../fhir/errors.js';
import type { DeadLetter } from '../../messaging/types.js';
import type { Repository } from '../../store/repository.js';
import { deadLetterAudit as auditOf } from './dead-letter-audit.js';
import type { parseDeadLetterQuery } from './dead-letter-query.js';

type DeadLetterQuery = ReturnType<typeof parseDeadLetterQuery>;

const notFound = (id: string) => new FhirError(404, 'RESOURCE_NOT_FOUND', `No dead letter ${id}`);

export async function listDeadLetters(
  store: Repository,
  ctx: RequestContext,
  query: DeadLetterQuery,
): Promise<DeadLetter[]> {
  const letters = await store.messaging.listDeadLetters(query);
  await store.commit({
    audit: auditOf(ctx, 'messaging.dead-letters.list', letters, {
      consumer: query.consumer,
      count: letters.length,
    }),
  });
  return letters;
}

export async function readDeadLetter(
  store: Repository,
  ctx: RequestContext,
  id: string,
): Promise<DeadLetter> {
  const letter = await store.messaging.readDeadLetter(id);
  if (!letter) throw notFound(id);
  await store.commit({
    audit: auditOf(ctx, 'messaging.dead-letters.read', [letter], {
      deadLetter: id,
      consumer: letter.consumer,
    }),
  });
  return letter;
}

/** Sends a dead letter back to its consumer, once; the replay and its audit commit together. */
export async function replayDeadLetter(
  store: Repository,
  ctx: RequestContext,
  id: string,
): Promise<DeadLetter> {
  const letter = await store.messaging.readDeadLetter(id);
  if (!letter) throw notFound(id);
  const audit = auditOf(ctx, 'messaging.dead-letters.replay', [letter], {
    deadLetter: id,
    consumer: letter.consumer,
    messageId: letter.message.id,
  });
  const outcome = await store.messaging.replayDeadLetter(id, audit);
  if (outcome === 'not-found') throw notFound(id);
  if (outcome === 'already-replayed') {
    const replayedAt = (await store.messaging.readDeadLetter(id))?.replayedAt;
    throw new FhirError(
      409,
      'DUPLICATE_REJECTED',
      `Dead letter ${id} was already replayed${replayedAt ? ' at ' + replayedAt : ''}`,
    );
  }
  return (await store.messaging.readDeadLetter(id))!;
}
