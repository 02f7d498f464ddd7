import type { Bundle, Subscription } from 'fhir/r4.js';
import { randomUUID } from 'node:crypto';
import { auditRecord } from '../../audit/audit-record.js';
import { AuditWriter } from '../../audit/audit-writer.js';
import { searchsetBundle } from '../../fhir/bundle.js';
import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import { writeOnce, type EarlierAnswer } from '../write-once.js';
import { LegitimateRelationships } from '../../security/relationships.js';
import type { StoredResource, ResourceStore } from '../../store/resource-store.js';
import { routeKey, type ParsedCriteria } from './criteria.js';
import { checkEntitlement } from './entitlement.js';
import {
  criteriaOf,
  indexSubscription,
  ownerOf,
  SUBSCRIPTION,
  subscriptionToStore,
} from './subscription-model.js';

/** An organisation with more active subscriptions than this is listed with a refusal, not silently cut. */
const MAX_LISTED = 1000;

export interface VersionedSubscription {
  subscription: Subscription;
  version: number;
}

const patientOf = (c: ParsedCriteria) => (c.scope.kind === 'patient' ? c.scope.nhsNumber : null);

/**
 * Subscription management for the caller's organisation. A subscription is the organisation's:
 * another organisation cannot see or end it (it is as absent to them as one that never existed).
 * Subscribing and unsubscribing are audited, against the patient when the subscription names one.
 */
export class SubscriptionService {
  private readonly readAudit: AuditWriter;
  private readonly relationships: LegitimateRelationships;

  constructor(
    private readonly repo: ResourceStore,
    audit: AuditWriter,
  ) {
    this.readAudit = audit;
    this.relationships = new LegitimateRelationships(repo);
  }

  private org(ctx: RequestContext): string {
    const org = ctx.principal?.org;
    if (!org)
      throw new FhirError(
        403,
        'ACCESS_DENIED',
        'Subscriptions belong to an organisation; your token names none',
      );
    return org;
  }

  /** Subscribes; a retry (same X-Request-ID, same request) gets the subscription first made. */
  async create(ctx: RequestContext, body: unknown): Promise<VersionedSubscription> {
    return writeOnce(this.repo, ctx, {
      answers: SUBSCRIPTION,
      asBefore,
      write: async ({ record }) => {
        const owner = this.org(ctx);
        const subscription = await subscriptionToStore(this.repo, body, randomUUID(), owner);
        const criteria = criteriaOf(subscription);
        const basis = await checkEntitlement(
          this.repo,
          this.relationships,
          ctx.principal!,
          criteria,
        );
        await this.refuseDuplicate(owner, subscription, criteria);
        const [saved] = await this.repo.commit({
          resources: [
            {
              type: SUBSCRIPTION,
              id: subscription.id!,
              expectedVersion: 0,
              resource: subscription,
              index: indexSubscription(subscription),
            },
          ],
          audit: [
            auditRecord(ctx, 'notifications.subscribe', patientOf(criteria), 'success', {
              subscription: subscription.id,
              criteria: subscription.criteria,
              channel: subscription.channel.type,
              ...(basis ? { accessBasis: basis } : {}),
            }),
          ],
          request: record({
            status: 201,
            resourceType: SUBSCRIPTION,
            resourceId: subscription.id!,
            version: 1,
          }),
        });
        return { subscription: saved.resource as Subscription, version: saved.version };
      },
    });
  }

  /** NEMS refuses a second subscription of an organisation for the same events, scope and channel. */
  private async refuseDuplicate(
    owner: string,
    subscription: Subscription,
    criteria: ParsedCriteria,
  ): Promise<void> {
    const ids = await this.repo.search({
      type: SUBSCRIPTION,
      criteria: [
        { any: [{ param: 'owner', op: 'eq', value: owner }] },
        {
          any: [{ param: 'route', op: 'eq', value: routeKey(criteria.events[0], criteria.scope) }],
        },
      ],
      limit: MAX_LISTED,
    });
    const same = (await this.repo.readMany(SUBSCRIPTION, ids)).find((s) => {
      const other = s.resource;
      return (
        JSON.stringify(criteriaOf(other)) === JSON.stringify(criteria) &&
        other.channel.type === subscription.channel.type &&
        other.channel.endpoint === subscription.channel.endpoint
      );
    });
    if (same)
      throw new FhirError(
        409,
        'DUPLICATE_REJECTED',
        `Your organisation already has subscription '${same.id}' for these events and this channel`,
      );
  }

  /** The caller's organisation's active subscription, or a 404 (also for another organisation's). */
  async owned(ctx: RequestContext, id: string): Promise<StoredResource<Subscription>> {
    const stored = /^[A-Za-z0-9\-.]{1,64}$/.test(id)
      ? await this.repo.read(SUBSCRIPTION, id)
      : null;
    if (
      !stored ||
      stored.resource.status !== 'active' ||
      ownerOf(stored.resource) !== this.org(ctx)
    ) {
      throw new FhirError(404, 'RESOURCE_NOT_FOUND', `Subscription '${id.slice(0, 64)}' not found`);
    }
    return stored;
  }

  async read(ctx: RequestContext, id: string): Promise<VersionedSubscription> {
    const stored = await this.owned(ctx, id);
    return { subscription: stored.resource, version: stored.version };
  }

  async list(ctx: RequestContext, baseUrl: string): Promise<Bundle> {
    const ids = await this.repo.search({
      type: SUBSCRIPTION,
      criteria: [
        { any: [{ param: 'owner', op: 'eq', value: this.org(ctx) }] },
        { any: [{ param: 'status', op: 'eq', value: 'active' }] },
      ],
      limit: MAX_LISTED + 1,
    });
    if (ids.length > MAX_LISTED)
      throw new FhirError(
        400,
        'TOO_MANY_MATCHES',
        `Your organisation has more than ${MAX_LISTED} subscriptions`,
      );
    const found = await this.repo.readMany(SUBSCRIPTION, ids);
    return searchsetBundle(
      found.map((s) => ({
        resource: s.resource,
        fullUrl: `${baseUrl}/Subscription/${s.id}`,
      })),
    );
  }

  /**
   * Ends a subscription: it goes 'off', leaves the routing index, and nothing more is routed to it.
   * A retry (same X-Request-ID, same request) of one that ended it is answered as it was (204), not 404.
   */
  async remove(ctx: RequestContext, id: string): Promise<void> {
    await writeOnce(this.repo, ctx, {
      answers: SUBSCRIPTION,
      asBefore: () => undefined,
      write: async ({ record }) => {
        const stored = await this.owned(ctx, id);
        const ended: Subscription = { ...stored.resource, status: 'off' };
        await this.repo.commit({
          resources: [
            {
              type: SUBSCRIPTION,
              id,
              expectedVersion: stored.version,
              resource: ended,
              index: indexSubscription(ended),
            },
          ],
          audit: [
            auditRecord(ctx, 'notifications.unsubscribe', patientOf(criteriaOf(ended)), 'success', {
              subscription: id,
            }),
          ],
          request: record({
            status: 204,
            resourceType: SUBSCRIPTION,
            resourceId: id,
            version: stored.version + 1,
          }),
        });
      },
    });
  }

  /** Audits a read of patient data through a mailbox (the platform's group commit). */
  auditRead(ctx: RequestContext, records: Parameters<AuditWriter['append']>): Promise<void> {
    return this.readAudit.append(...records);
  }
}

const asBefore = ({ stored }: EarlierAnswer<Subscription>): VersionedSubscription => ({
  subscription: stored.resource,
  version: stored.version,
});
