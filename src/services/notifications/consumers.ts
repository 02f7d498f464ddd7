import { EPS_PRESCRIPTION_TOPICS } from '../eps/index.js';
import { NOTIFICATIONS_DELIVER } from './event-topics.js';
import { PDS_PATIENT_TOPICS } from '../pds/index.js';
import { SCR_TOPICS } from '../scr/index.js';
import type { MessageBus } from '../../messaging/types.js';
import type { SigningKey } from '../../security/embedded-idp.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { NotificationDeliverer } from './deliverer.js';
import { NotificationRouter } from './router.js';

/**
 * Retry policy of rest-hook deliveries: attempts, first retry delay (doubled each time by the bus),
 * per-attempt timeout.
 */
export interface DeliveryPolicy {
  maxAttempts: number;
  retryDelayMs: number;
  timeoutMs: number;
}

/** 1 s, 2 s, 4 s ... about 8.5 minutes of retries over 10 attempts before a delivery is dead-lettered. */
export const DEFAULT_DELIVERY: DeliveryPolicy = {
  maxAttempts: 10,
  retryDelayMs: 1000,
  timeoutMs: 10_000,
};

export const ROUTER_CONSUMER = 'notifications.router';
export const DELIVERER_CONSUMER = 'notifications.deliverer';

/**
 * Registers the router (published events -> deliveries) and the deliverer (deliveries -> subscriber
 * endpoints) on the bus.
 */
export function registerNotificationConsumers(
  bus: MessageBus,
  deps: {
    repo: ResourceStore;
    signingKey: SigningKey;
    publicUrl: string;
    delivery?: Partial<DeliveryPolicy>;
  },
): void {
  const policy = { ...DEFAULT_DELIVERY, ...deps.delivery };
  const router = new NotificationRouter(deps.repo, deps.publicUrl);
  const deliverer = new NotificationDeliverer(deps.repo, deps.signingKey, {
    timeoutMs: policy.timeoutMs,
  });
  bus.consume(
    {
      name: ROUTER_CONSUMER,
      topics: [PDS_PATIENT_TOPICS, SCR_TOPICS, EPS_PRESCRIPTION_TOPICS],
      maxAttempts: 10,
      retryDelayMs: 500,
    },
    async (message) => {
      await router.route(message);
    },
  );
  bus.consume(
    {
      name: DELIVERER_CONSUMER,
      topics: [NOTIFICATIONS_DELIVER],
      maxAttempts: policy.maxAttempts,
      retryDelayMs: policy.retryDelayMs,
    },
    async (message) => {
      await deliverer.deliver(message);
    },
  );
}
