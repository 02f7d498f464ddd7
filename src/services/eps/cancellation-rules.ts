/**
 * Reading an EPS cancellation: a prescription-order-update message whose MedicationRequests are all
 * 'cancelled' with a reason, checked against the caller's organisation. Parsing only; applying it
 * to the stored prescription is cancellation-service.ts, and the published answer cancellation-answer.ts.
 */
import { FhirError } from '../../fhir/errors.js';
import {
  codingOf,
  groupIds,
  identifierValue,
  messagePatient,
  odsOf,
  ofType,
  ORDER_ITEM_SYSTEM,
  readMessageBundle,
} from './message-bundle.js';

export const CANCEL_REASON_SYSTEM =
  'https://fhir.nhs.uk/CodeSystem/medicationrequest-status-reason';

export interface ValidCancellation {
  longFormId: string;
  shortFormId: string;
  nhsNumber: string;
  org: string;
  items: string[];
  reason: { code: string; display?: string };
}

/** A prescription-order-update cancelling items (every MedicationRequest with status 'cancelled' and a reason). */
export function validateCancellation(body: unknown, callerOrg: string): ValidCancellation {
  const msg = readMessageBundle(body, ['prescription-order-update']);
  const org = odsOf(msg.header.sender);
  if (!org)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'MessageHeader.sender must identify the prescribing organisation by ODS code',
    );
  if (org !== callerOrg.toUpperCase())
    throw new FhirError(
      403,
      'ACCESS_DENIED',
      `The message is sent by ${org}, but the caller acts for ${callerOrg || '(no organisation)'}`,
    );
  const { nhsNumber } = messagePatient(msg);
  const requests = ofType(msg, 'MedicationRequest');
  if (requests.length === 0)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'A cancellation names the items it cancels as MedicationRequests',
    );
  const first = groupIds(requests[0]);
  let reason: ValidCancellation['reason'] | undefined;
  const items = requests.map((r, i) => {
    const ids = groupIds(r);
    if (ids.longFormId !== first.longFormId || ids.shortFormId !== first.shortFormId)
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `MedicationRequest[${i}] names a different prescription`,
      );
    if (r.status !== 'cancelled')
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `MedicationRequest[${i}].status must be 'cancelled'`,
      );
    const why = codingOf(r.statusReason, CANCEL_REASON_SYSTEM);
    if (!why)
      throw new FhirError(
        400,
        'INVALID_CODE',
        `MedicationRequest[${i}].statusReason must give the reason (${CANCEL_REASON_SYSTEM})`,
      );
    reason ??= { code: why.code, ...(why.display ? { display: why.display } : {}) };
    const id = identifierValue(r, ORDER_ITEM_SYSTEM);
    if (!id)
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `MedicationRequest[${i}] must identify the item (${ORDER_ITEM_SYSTEM})`,
      );
    return id.toLowerCase();
  });
  return {
    longFormId: first.longFormId!,
    shortFormId: first.shortFormId!,
    nhsNumber,
    org,
    items,
    reason: reason!,
  };
}
