import type { ServicePlugin } from '../service-deps.js';
import { registerNotificationConsumers } from './consumers.js';
import { NOTIFICATIONS_BASE, notificationRoutes } from './routes.js';

/**
 * Life-event notifications (docs/notifications.md): the Subscription and mailbox route table under
 * NOTIFICATIONS_BASE, and the router and deliverer consumers that turn published events into
 * deliveries (default delivery policy, consumers.ts).
 */
export const notificationsPlugin: ServicePlugin = async (app, deps) => {
  registerNotificationConsumers(deps.bus, {
    repo: deps.store,
    signingKey: deps.signingKey,
    publicUrl: deps.publicUrl,
  });
  await app.register(notificationRoutes(deps), { prefix: NOTIFICATIONS_BASE });
};
