import type { Subscription } from 'fhir/r4.js';
import type { DeliveredMessage } from '../../messaging/types.js';
import type { SigningKey } from '../../security/embedded-idp.js';
import { LocationRelease } from '../../security/location-release.js';
import type { AuditRecord } from '../../audit/types.js';
import type { ResourceStore } from '../../store/resource-store.js';
import type { DeliverBody } from './router.js';
import { SIGNATURE_HEADER, signDelivery } from './signature.js';
import { deliveryAddress, ownerOf, SUBSCRIPTION } from './subscription-model.js';

/**
 * The "notifications.deliverer" consumer: POSTs one event message to a rest-hook subscriber,
 * signed (X-Signature, see signature.ts). A non-2xx answer, a redirect, a timeout or an unreachable
 * endpoint fails the attempt: the bus retries it with backoff and dead-letters it after the last
 * attempt, and later messages of the same subscriber and patient wait behind it, so they arrive in
 * order. Every attempt that sent patient data is audited against the patient, naming the
 * receiving organisation; a subscription ended meanwhile gets nothing more.
 */

export interface DelivererOptions {
  /** How long a subscriber may take to answer before the attempt fails. */
  timeoutMs: number;
}

export class NotificationDeliverer {
  private readonly release: LocationRelease;

  constructor(
    private readonly repo: ResourceStore,
    private readonly signingKey: SigningKey,
    private readonly options: DelivererOptions,
  ) {
    this.release = new LocationRelease(repo);
  }

  async deliver(message: DeliveredMessage): Promise<'delivered' | 'dropped'> {
    const body = message.body as DeliverBody;
    const stored = await this.repo.read(SUBSCRIPTION, body.subscriptionId);
    const subscription = stored?.resource;
    const ended = subscription?.end !== undefined && subscription.end < new Date().toISOString();
    if (
      !subscription ||
      subscription.status !== 'active' ||
      subscription.channel.type !== 'rest-hook' ||
      ended
    )
      return 'dropped';
    const address = await deliveryAddress(this.repo, subscription);
    if (!address) throw new Error(`subscription ${body.subscriptionId} has no usable endpoint`);
    // the platform's location-release rule, applied to what actually leaves (and is signed)
    const payload = await this.release.releaseText(JSON.stringify(body.bundle), 'any', {
      about: body.nhsNumber,
    });
    const signature = await signDelivery(this.signingKey, payload, {
      subscription: body.subscriptionId,
      bundle: body.bundle.id!,
    });
    let outcome = 'delivered',
      failure: Error | undefined;
    try {
      const res = await fetch(address, {
        method: 'POST',
        body: payload,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
        headers: {
          'content-type': 'application/fhir+json',
          [SIGNATURE_HEADER]: signature,
          'x-subscription-id': body.subscriptionId,
          'x-event-id': body.bundle.id!,
          'x-delivery-attempt': String(message.attempt),
        },
      });
      await res.arrayBuffer().catch(() => undefined); // drain, so the connection can be reused
      if (res.status < 200 || res.status > 299) {
        outcome = `failed ${res.status}`;
        failure = new Error(`subscriber answered ${res.status}`);
      }
    } catch (err) {
      outcome = `failed ${(err as Error).name === 'TimeoutError' ? 'timeout' : 'unreachable'}`;
      failure = new Error(`delivery to subscriber failed: ${(err as Error).message}`);
    }
    await this.repo.commit({ audit: [this.auditOf(message, subscription, body, outcome)] });
    if (failure) throw failure;
    return 'delivered';
  }

  private auditOf(
    message: DeliveredMessage,
    subscription: Subscription,
    body: DeliverBody,
    outcome: string,
  ): AuditRecord {
    return {
      time: new Date().toISOString(),
      requestId: `notification-${message.id}`,
      userId: 'openspine-notifications',
      actorKind: 'application',
      role: 'system',
      org: ownerOf(subscription) ?? '',
      patient: body.nhsNumber,
      action: 'notifications.deliver',
      outcome,
      purpose: 'direct-care',
      type: 'patient-record',
      detail: {
        subscription: body.subscriptionId,
        bundle: body.bundle.id,
        event: body.eventId,
        attempt: message.attempt,
        channel: 'rest-hook',
      },
    };
  }
}
