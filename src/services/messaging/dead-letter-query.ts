import { FhirError } from '../../fhir/errors.js';
import { CONSUMER_NAME } from '../../messaging/consumer-registry.js';

export const DEFAULT_COUNT = 50;
export const MAX_COUNT = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KNOWN = new Set(['consumer', '_count']);

/** The dead-letter list query: ?consumer=NAME&_count=N, nothing else, each at most once. */
export function parseDeadLetterQuery(query: Record<string, unknown>): {
  consumer?: string;
  limit: number;
} {
  for (const [name, value] of Object.entries(query)) {
    if (!KNOWN.has(name))
      throw new FhirError(
        400,
        'INVALID_SEARCH_DATA',
        `Unknown search parameter '${name.slice(0, 40)}': use consumer and _count`,
      );
    if (typeof value !== 'string')
      throw new FhirError(
        400,
        'INVALID_SEARCH_DATA',
        `Search parameter '${name}' may be given once`,
      );
  }
  const consumer = query.consumer as string | undefined;
  if (consumer !== undefined && !CONSUMER_NAME.test(consumer)) {
    throw new FhirError(
      400,
      'INVALID_SEARCH_DATA',
      `'${consumer.slice(0, 60)}' is not a consumer name`,
    );
  }
  const raw = query._count as string | undefined;
  let limit = DEFAULT_COUNT;
  if (raw !== undefined) {
    limit = Number(raw);
    if (!/^\d+$/.test(raw) || limit < 1 || limit > MAX_COUNT)
      throw new FhirError(
        400,
        'INVALID_SEARCH_DATA',
        `_count must be a whole number from 1 to ${MAX_COUNT}`,
      );
  }
  return { consumer, limit };
}

/** A dead-letter id from the path: a UUID, else 400. */
export function deadLetterId(raw: string): string {
  if (!UUID.test(raw))
    throw new FhirError(
      400,
      'INVALID_RESOURCE_ID',
      `Invalid resource ID - '${raw.slice(0, 40)}' is not a dead-letter id`,
    );
  return raw.toLowerCase();
}
