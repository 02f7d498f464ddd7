import type { Bundle, Subscription } from 'fhir/r4.js';
import { NOTIFICATIONS_DELIVER } from './event-topics.js';
import type { OutboxMessage } from '../../messaging/types.js';
import { VersionConflictError } from '../../store/errors.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { storedPatient } from '../pds/index.js';
import { routeKey, type Scope } from './criteria.js';
import { derivedId } from './derived-id.js';
import { eventBundle } from './event-bundle.js';
import { lifeEventOf, type LifeEvent } from './life-event.js';
import { appendWrites, isMailboxRace } from './mailbox.js';
import { SUBSCRIPTION } from './subscription-model.js';

/**
 * The "notifications.router" consumer: for each published event, the active subscriptions whose
 * criteria match it (looked up by route key in the index, a page at a time), and for each of them,
 * in one commit, a dispatch marker with an id derived from (event, subscription) and either a
 * mailbox entry or a `notifications.deliver` outbox message keyed `<subscription>|<NHS Number>`.
 * A redelivered event meets its own markers and creates nothing twice; per-subscriber, per-patient
 * order, retries and dead-lettering of deliveries then come from the bus.
 */

export const DISPATCH = 'NotificationDispatch';
const PAGE = 500;
const MAX_MAILBOX_ATTEMPTS = 20;

export interface DeliverBody {
  subscriptionId: string;
  eventId: string;
  nhsNumber: string;
  bundle: Bundle;
}

/** Every route key an event matches: its patients, the practices of its patients, the organisations in it. */
function routeKeys(event: LifeEvent): string[] {
  const scopes: Scope[] = [
    ...[event.nhsNumber, ...event.otherNumbers].map((nhsNumber): Scope => ({
      kind: 'patient',
      nhsNumber,
    })),
    ...event.practices.map((ods): Scope => ({ kind: 'practice', ods })),
    ...event.organisations.map((ods): Scope => ({ kind: 'org', ods })),
  ];
  return scopes.map((s) => routeKey(event.code.code, s));
}

export class NotificationRouter {
  constructor(
    private readonly repo: ResourceStore,
    private readonly publicUrl: string,
  ) {}

  /** Routes one outbox message; messages no subscription can ask for are passed over. */
  async route(
    message: OutboxMessage & { time?: string },
  ): Promise<{ matched: number; dispatched: number }> {
    if (!(await this.anyoneMayListen(message))) return { matched: 0, dispatched: 0 };
    const nhs = (message.body as { nhsNumber?: unknown } | null)?.nhsNumber;
    const stored =
      typeof nhs === 'string' ? ((await storedPatient(this.repo, nhs))?.resource ?? null) : null;
    const event = lifeEventOf(message, stored);
    if (!event) return { matched: 0, dispatched: 0 };
    // the bundle is built only once a subscription matches: most events match none, and cost one index look-up
    let bundle: Bundle | undefined;
    const keys = routeKeys(event);
    let matched = 0,
      dispatched = 0,
      after = '';
    for (;;) {
      const ids = await this.repo.search({
        type: SUBSCRIPTION,
        criteria: [
          { any: keys.map((value) => ({ param: 'route', op: 'eq' as const, value })) },
          { any: [{ param: 'sid', op: 'gt', value: after }] },
        ],
        limit: PAGE,
      });
      if (ids.length === 0) break;
      const subscriptions = (await this.repo.readMany(SUBSCRIPTION, ids)).map((s) => s.resource);
      for (const subscription of subscriptions) {
        if (subscription.status !== 'active' || (subscription.end && subscription.end < event.time))
          continue;
        matched++;
        bundle ??= eventBundle(event, stored, this.publicUrl);
        if (await this.dispatch(event, subscription, bundle)) dispatched++;
      }
      if (ids.length < PAGE) break;
      after = ids[ids.length - 1];
    }
    return { matched, dispatched };
  }

  /**
   * Whether any active subscription could match, found without reading the patient: one index
   * look-up for the route keys the message itself gives, or any practice-wide subscription to the
   * event (the patient's registered practice, which needs the PDS record, is known only later).
   * Most events (a prescription's every step) match none, and then cost nothing more.
   */
  private async anyoneMayListen(message: OutboxMessage & { time?: string }): Promise<boolean> {
    const event = lifeEventOf(message, null);
    if (!event) return false;
    const any = [
      ...routeKeys(event).map((value) => ({ param: 'route', op: 'eq' as const, value })),
      {
        param: 'route',
        op: 'prefix' as const,
        value: routeKey(event.code.code, { kind: 'practice', ods: '' }),
      },
    ];
    return (
      (await this.repo.search({ type: SUBSCRIPTION, criteria: [{ any }], limit: 1 })).length > 0
    );
  }

  /** One (event, subscription) pair; false when an earlier delivery of this event already dispatched it. */
  private async dispatch(
    event: LifeEvent,
    subscription: Subscription,
    bundle: Bundle,
  ): Promise<boolean> {
    const id = subscription.id!;
    const marker = {
      type: DISPATCH,
      id: derivedId('dispatch', event.eventId, id),
      expectedVersion: 0,
      index: [],
      resource: {
        resourceType: DISPATCH,
        subscription: id,
        event: event.eventId,
        bundle: bundle.id,
        channel: subscription.channel.type,
        nhsNumber: event.nhsNumber,
      },
    };
    for (let attempt = 1; ; attempt++) {
      try {
        if (subscription.channel.type === 'message') {
          await this.repo.commit({
            resources: [marker, ...(await appendWrites(this.repo, id, event.nhsNumber, bundle))],
          });
        } else {
          const body: DeliverBody = {
            subscriptionId: id,
            eventId: event.eventId,
            nhsNumber: event.nhsNumber,
            bundle,
          };
          const message: OutboxMessage = {
            id: derivedId('deliver', event.eventId, id),
            topic: NOTIFICATIONS_DELIVER,
            key: `${id}|${event.nhsNumber}`,
            body,
          };
          await this.repo.commit({ resources: [marker], messages: [message] });
        }
        return true;
      } catch (err) {
        if (err instanceof VersionConflictError && err.type === DISPATCH) return false;
        if (!isMailboxRace(err) || attempt >= MAX_MAILBOX_ATTEMPTS) throw err;
      }
    }
  }
}
