import type { FastifyInstance } from 'fastify';
import type { Bundle, Parameters } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError } from '../../fhir/errors.js';
import { etagFor } from '../../fhir/etag.js';
import { parametersOf, parameterValue } from '../../fhir/parameters.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { ServiceDeps } from '../service-deps.js';
import { notificationsApi } from './capability.js';
import { registerMetadataRoute } from '../../fhir/metadata-route.js';
import { acknowledge, fetchMailbox, SEQUENCE_EXTENSION } from './mailbox.js';
import { SubscriptionService } from './subscription-service.js';
import { pathParams, queryParams } from '../route-schemas.js';

export const NOTIFICATIONS_BASE = '/events/FHIR/R4';

const DEFAULT_COUNT = 50;
const MAX_COUNT = 500;

interface IdParams {
  id: string;
}

function mailboxCount(query: Record<string, unknown>): number {
  for (const key of Object.keys(query))
    if (key !== '_count')
      throw new FhirError(
        400,
        'INVALID_SEARCH_DATA',
        `Invalid search data - unsupported parameter '${key.slice(0, 40)}'`,
      );
  const raw = query._count;
  if (raw === undefined) return DEFAULT_COUNT;
  const n = typeof raw === 'string' && /^\d{1,4}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_COUNT))
    throw new FhirError(
      400,
      'INVALID_SEARCH_DATA',
      `Invalid search data - '_count' must be a whole number from 1 to ${MAX_COUNT}`,
    );
  return n;
}

/**
 * Life-event notifications in the shape of NEMS: organisations manage their Subscriptions here and
 * read their pull mailboxes; the router and deliverer consumers (registered in plugin.ts) turn
 * published events into deliveries. See docs/notifications.md.
 */
export function notificationRoutes({
  store: repo,
  audit,
  publicUrl,
}: Pick<ServiceDeps, 'store' | 'audit' | 'publicUrl'>) {
  const base = publicUrl + NOTIFICATIONS_BASE;
  const service = new SubscriptionService(repo, audit);

  return async function plugin(app: FastifyInstance): Promise<void> {
    registerMetadataRoute(app, notificationsApi(NOTIFICATIONS_BASE, publicUrl));
    const config = { fhirApi: true, activity: 'notifications.subscribe' } as const;

    app.post('/Subscription', { config }, async (req, reply) => {
      const { subscription, version } = await service.create(req.ctx, req.body);
      return reply
        .code(201)
        .type(FHIR_JSON)
        .header('location', `${base}/Subscription/${subscription.id}`)
        .header('etag', etagFor(version))
        .send(subscription);
    });

    app.get('/Subscription', { config }, async (req, reply) => {
      if (Object.keys(req.query as object).length > 0)
        throw new FhirError(
          400,
          'INVALID_SEARCH_DATA',
          "Invalid search data - GET /Subscription lists your organisation's subscriptions and takes no parameters",
        );
      return reply.type(FHIR_JSON).send(await service.list(req.ctx, base));
    });

    app.get<{ Params: IdParams }>(
      '/Subscription/:id',
      { schema: { params: pathParams('id') }, config },
      async (req, reply) => {
        const { subscription, version } = await service.read(req.ctx, req.params.id);
        return reply.type(FHIR_JSON).header('etag', etagFor(version)).send(subscription);
      },
    );

    app.delete<{ Params: IdParams }>(
      '/Subscription/:id',
      { schema: { params: pathParams('id') }, config },
      async (req, reply) => {
        await service.remove(req.ctx, req.params.id);
        return reply.code(204).send();
      },
    );

    app.get<{ Params: IdParams }>(
      '/Subscription/:id/$mailbox',
      {
        schema: {
          params: pathParams('id'),
          querystring: queryParams(['_count'], `1 to ${MAX_COUNT} (default ${DEFAULT_COUNT})`),
        },
        config,
      },
      async (req, reply) => {
        const count = mailboxCount(req.query as Record<string, unknown>);
        const stored = await service.owned(req.ctx, req.params.id);
        if (stored.resource.channel.type !== 'message')
          throw new FhirError(
            400,
            'INVALID_VALUE',
            'Invalid value - only a subscription with a message channel has a mailbox',
          );
        const entries = await fetchMailbox(repo, stored.id, count);
        // each message carries patient data: the read is audited against every patient in it
        const patients = [...new Set(entries.map((e) => e.nhsNumber))];
        if (patients.length > 0) {
          await service.auditRead(
            req.ctx,
            patients.map((nhs) =>
              auditRecord(req.ctx, 'notifications.mailbox.read', nhs, 'success', {
                subscription: stored.id,
                bundles: entries.filter((e) => e.nhsNumber === nhs).map((e) => e.bundle.id),
              }),
            ),
          );
        }
        const bundle: Bundle = {
          resourceType: 'Bundle',
          type: 'searchset',
          timestamp: new Date().toISOString(),
          total: entries.length,
          entry: entries.map((e) => ({
            fullUrl: `urn:uuid:${e.bundle.id}`,
            resource: e.bundle,
            search: { mode: 'match' },
            extension: [{ url: SEQUENCE_EXTENSION, valueInteger: e.seq }],
          })),
        };
        return reply.type(FHIR_JSON).send(bundle);
      },
    );

    app.post<{ Params: IdParams }>(
      '/Subscription/:id/$acknowledge',
      { schema: { params: pathParams('id') }, config },
      async (req, reply) => {
        const stored = await service.owned(req.ctx, req.params.id);
        if (stored.resource.channel.type !== 'message')
          throw new FhirError(
            400,
            'INVALID_VALUE',
            'Invalid value - only a subscription with a message channel has a mailbox',
          );
        const params = parametersOf(req.body);
        const bundleId = parameterValue(params, 'bundle');
        const seqParam = params.find((p) => p.name === 'seq')?.valueInteger;
        if ((bundleId === undefined) === (seqParam === undefined)) {
          throw new FhirError(
            400,
            'INVALID_VALUE',
            "Invalid value - give exactly one of 'bundle' (the id of the last Bundle handled) or 'seq' (its sequence number)",
          );
        }
        if (seqParam !== undefined && typeof seqParam !== 'number')
          throw new FhirError(400, 'INVALID_VALUE', "Invalid value - 'seq' must be a valueInteger");
        const result = await acknowledge(
          repo,
          stored.id,
          bundleId !== undefined ? { bundleId } : { seq: seqParam as number },
        );
        const answer: Parameters = {
          resourceType: 'Parameters',
          parameter: [
            { name: 'acknowledged', valueInteger: result.acked },
            { name: 'remaining', valueInteger: result.remaining },
          ],
        };
        return reply.type(FHIR_JSON).send(answer);
      },
    );
  };
}
