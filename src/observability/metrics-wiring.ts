import type { FastifyInstance } from 'fastify';
import type { PlatformMetrics } from './metrics.js';
import { registerHttpMetrics } from './metrics-http.js';

type Detach = () => void;

/** The store as the metrics see it (src/store/repository.ts Repository, by shape). */
interface ObservedStore {
  readonly kind: string;
  observeCommits(observer: { committed(durationSeconds: number, batchSize: number): void }): Detach;
}

/** The bus as the metrics see it (src/messaging/types.ts MessageBus, by shape). */
interface ObservedBus {
  observeDeliveries?(observer: PlatformMetrics['deliveryObserver']): Detach;
}

/**
 * Puts the metrics on an app (buildApp calls it only when metrics are on): the HTTP hooks, the
 * store's commit observer and the bus's delivery observer, detached when the app closes (a test
 * may build several apps over one store).
 */
export function registerMetrics(
  app: FastifyInstance,
  metrics: PlatformMetrics,
  store: ObservedStore,
  bus: ObservedBus,
): void {
  registerHttpMetrics(app, metrics);
  const detach = [
    store.observeCommits(metrics.commitObserver(store.kind)),
    bus.observeDeliveries?.(metrics.deliveryObserver),
  ];
  app.addHook('onClose', async () => detach.forEach((d) => d?.()));
}
