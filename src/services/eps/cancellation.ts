import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../http/request-context.js';
import { VersionConflictError, type Repository } from '../../store/types.js';
import { codingOf, groupIds, identifierValue, messagePatient, odsOf, ofType, ORDER_ITEM_SYSTEM, readMessageBundle } from './message-bundle.js';
import { PRESCRIPTION, type EpsPrescription } from './prescription-model.js';
import { PRESCRIPTION_STATUSES } from './state-machine.js';
import { commitPlans, planTransition } from './transitions.js';

export const CANCEL_REASON_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/medicationrequest-status-reason';

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
  if (!org) throw new FhirError(400, 'INVALID_VALUE', 'MessageHeader.sender must identify the prescribing organisation by ODS code');
  if (org !== callerOrg.toUpperCase()) throw new FhirError(403, 'ACCESS_DENIED', `The message is sent by ${org}, but the caller acts for ${callerOrg || '(no organisation)'}`);
  const { nhsNumber } = messagePatient(msg);
  const requests = ofType(msg, 'MedicationRequest');
  if (requests.length === 0) throw new FhirError(400, 'INVALID_VALUE', 'A cancellation names the items it cancels as MedicationRequests');
  const first = groupIds(requests[0]);
  let reason: ValidCancellation['reason'] | undefined;
  const items = requests.map((r, i) => {
    const ids = groupIds(r);
    if (ids.longFormId !== first.longFormId || ids.shortFormId !== first.shortFormId) throw new FhirError(400, 'INVALID_VALUE', `MedicationRequest[${i}] names a different prescription`);
    if (r.status !== 'cancelled') throw new FhirError(400, 'INVALID_VALUE', `MedicationRequest[${i}].status must be 'cancelled'`);
    const why = codingOf(r.statusReason, CANCEL_REASON_SYSTEM);
    if (!why) throw new FhirError(400, 'INVALID_CODE', `MedicationRequest[${i}].statusReason must give the reason (${CANCEL_REASON_SYSTEM})`);
    reason ??= { code: why.code, ...(why.display ? { display: why.display } : {}) };
    const id = identifierValue(r, ORDER_ITEM_SYSTEM);
    if (!id) throw new FhirError(400, 'INVALID_VALUE', `MedicationRequest[${i}] must identify the item (${ORDER_ITEM_SYSTEM})`);
    return id.toLowerCase();
  });
  return { longFormId: first.longFormId!, shortFormId: first.shortFormId!, nhsNumber, org, items, reason: reason! };
}

/** The refusal when nothing is left to cancel: with a dispenser or dispensed name the dispensing org. */
function refusal(latest: EpsPrescription): FhirError {
  const { code, display } = PRESCRIPTION_STATUSES[latest.status];
  const state = `prescription ${latest.shortFormId} issue ${latest.issue.number} is '${latest.status}' (${code} ${display})`;
  if (latest.status === 'with-dispenser') return new FhirError(409, 'PRESCRIPTION_WITH_DISPENSER', `Not cancelled: ${state}, with dispenser ${latest.dispenser}`);
  if (['with-dispenser-active', 'dispensed', 'not-dispensed', 'claimed'].includes(latest.status)) {
    return new FhirError(409, 'PRESCRIPTION_DISPENSED', `Not cancelled: ${state}, dispensed by ${latest.dispenser}`);
  }
  return new FhirError(409, 'INVALID_STATE_TRANSITION', `A cancellation is not allowed: ${state}`);
}

/**
 * Cancels the named items on every issue still waiting (future or to be dispensed); an issue
 * whose every item is cancelled is cancelled. When no issue is waiting, the refusal says why.
 */
export async function cancelPrescription(repo: Repository, ctx: RequestContext, c: ValidCancellation): Promise<EpsPrescription[]> {
  for (let attempt = 0; ; attempt++) {
    const stored = (await repo.searchResources({ type: PRESCRIPTION, criteria: [{ any: [{ param: 'long-form', op: 'eq', value: c.longFormId }] }], limit: 100 })).sort((a, b) => a.resource.issue.number - b.resource.issue.number);
    if (stored.length === 0) throw new FhirError(404, 'PRESCRIPTION_NOT_FOUND', `Prescription ${c.shortFormId} not found`);
    const first = stored[0].resource as EpsPrescription;
    if (first.shortFormId !== c.shortFormId || first.nhsNumber !== c.nhsNumber) throw new FhirError(400, 'INVALID_VALUE', 'The cancellation does not match the prescription (short-form ID or patient differ)');
    if (first.prescriber.org !== c.org) throw new FhirError(403, 'ACCESS_DENIED', `Only the prescribing organisation ${first.prescriber.org} may cancel this prescription`);
    const unknown = c.items.filter((id) => !first.items.some((it) => it.id === id));
    if (unknown.length) throw new FhirError(400, 'INVALID_VALUE', `Item ${unknown[0]} is not on prescription ${c.shortFormId}`);
    const waiting = stored.filter((s) => s.resource.status === 'future' || s.resource.status === 'to-be-dispensed');
    if (waiting.length === 0) {
      const latest = [...stored].reverse().find((s) => s.resource.status !== 'expired' && s.resource.status !== 'cancelled') ?? stored[stored.length - 1];
      throw refusal(latest.resource as EpsPrescription);
    }
    const plans = waiting.map((s) => planTransition(ctx, s.resource as EpsPrescription, s.version, 'cancelled', (draft) => {
      for (const item of draft.items) if (c.items.includes(item.id)) { item.status = 'cancelled'; item.reason = c.reason; }
      if (draft.items.every((it) => it.status === 'cancelled')) draft.status = 'cancelled';
      return { reason: c.reason, items: c.items };
    }));
    try {
      await commitPlans(repo, plans);
      return plans.map((p) => p.prescription);
    } catch (err) {
      if (!(err instanceof VersionConflictError) || attempt >= 3) throw err;
    }
  }
}
