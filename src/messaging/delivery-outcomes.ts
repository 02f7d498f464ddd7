import type { DeliveryObserver, DeliveryOutcome } from './types.js';

/** The observers of one bus's delivery outcomes (MessageBus.observeDeliveries); a no-op while none. */
export class DeliveryOutcomes implements DeliveryObserver {
  private readonly observers = new Set<DeliveryObserver>();

  add(observer: DeliveryObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  delivered(consumer: string, outcome: DeliveryOutcome): void {
    for (const o of this.observers) o.delivered(consumer, outcome);
  }
}
