import type { FastifyInstance } from 'fastify';
import type { JobScheduler, MessageBus } from './types.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** The message bus: services register consumers on it while the app is built (before ready). */
    bus: MessageBus;
    /** Cluster-wide scheduled jobs (one node runs each): register with every() before ready. */
    scheduler: JobScheduler;
  }
}

/** Delivered messages are kept a week (the JetStream stream's max age too), swept every ten minutes. */
export const RETENTION_MS = 7 * 86_400_000;
const SWEEP_INTERVAL_MS = 10 * 60_000;

/**
 * Puts the bus and scheduler on the app and ties them to its life: they start once every plugin has
 * registered its consumers and jobs (onReady) and stop, waiting for handlers in flight, when the
 * app closes (before the caller closes the repository).
 */
export function registerMessaging(
  app: FastifyInstance,
  bus: MessageBus,
  scheduler: JobScheduler,
): void {
  app.decorate('bus', bus);
  app.decorate('scheduler', scheduler);
  if (bus.sweep)
    scheduler.every('messaging.sweep', SWEEP_INTERVAL_MS, async () => {
      await bus.sweep!(RETENTION_MS);
    });
  app.addHook('onReady', async () => {
    await bus.start();
    await scheduler.start();
  });
  app.addHook('onClose', async () => {
    await scheduler.stop();
    await bus.stop();
  });
}
