import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { PDS_GP_CHANGE, type PdsPatientEventBody } from '../pds/index.js';
import type { ConsumerOptions, DeliveredMessage, MessageBus } from '../../messaging/types.js';
import type { TransferService } from './transfer-service.js';
import { systemContext, uuidFor } from './transfer-store.js';

/** Durable consumer name: each gp-change event is handled once across the cluster. */
export const GP_CHANGE_CONSUMER: ConsumerOptions = {
  name: 'gp2gp.gp-change',
  topics: [PDS_GP_CHANGE],
  maxAttempts: 10,
  retryDelayMs: 1000,
};

const ODS_CODE = /^[A-Z0-9]{3,10}$/;

/**
 * A patient's registered practice changed on PDS: the new practice needs the record from the old
 * one, so a transfer is created (requester = new practice, owner = old practice). The transfer id is
 * derived from the event id, so a redelivered event finds the transfer it already made. A change
 * that has no old or no new practice (first registration, registration ended) moves no record.
 */
export async function handleGpChange(
  service: TransferService,
  message: Pick<DeliveredMessage, 'id' | 'body'>,
): Promise<'created' | 'exists' | 'ignored'> {
  const body = message.body as Partial<PdsPatientEventBody> | null;
  const nhsNumber = body?.nhsNumber;
  const owner = body?.previousPractice;
  const requester = body?.practice;
  if (!isValidNhsNumber(nhsNumber) || typeof owner !== 'string' || typeof requester !== 'string')
    return 'ignored';
  if (!ODS_CODE.test(owner) || !ODS_CODE.test(requester) || owner === requester) return 'ignored';
  const created = await service.create(systemContext('gp-change'), {
    id: uuidFor(`gp2gp:${message.id}`),
    nhsNumber: nhsNumber as string,
    owner,
    requester,
    trigger: `pds-gp-change:${message.id}`,
  });
  return created ? 'created' : 'exists';
}

/** Registers the consumer on the bus (before the bus starts). */
export function consumeGpChanges(bus: MessageBus, service: TransferService): void {
  bus.consume(GP_CHANGE_CONSUMER, async (message) => {
    await handleGpChange(service, message);
  });
}
