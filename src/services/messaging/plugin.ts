import type { ServicePlugin } from '../service-deps.js';
import { deadLetterRoutes, MESSAGING_BASE } from './dead-letter-routes.js';
import { statusRoutes } from './status-routes.js';

/**
 * Messaging administration (docs/messaging.md): the dead-letter and status route tables under
 * MESSAGING_BASE.
 * The bus itself, and its retention sweep, belong to the platform (src/messaging/fastify-messaging.ts).
 */
export const messagingPlugin: ServicePlugin = async (app, deps) => {
  await app.register(deadLetterRoutes(deps), { prefix: MESSAGING_BASE });
  await app.register(statusRoutes(deps), { prefix: MESSAGING_BASE });
};
