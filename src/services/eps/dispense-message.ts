import { FhirError } from '../../fhir/errors.js';
import { codingOf, groupIds, identifierValue, list, messagePatient, ofType, ORDER_ITEM_SYSTEM, readMessageBundle, type Json, type MessageBundle } from './message-bundle.js';
import type { ItemStatus } from './state-machine.js';

export const DISPENSE_TYPE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/medicationdispense-type';
export const NOT_DISPENSED_REASON_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/medicationdispense-status-reason';

/** Item outcomes a dispense notification may report (medicationdispense-type codes). */
const OUTCOMES: Record<string, ItemStatus> = { '0001': 'dispensed', '0002': 'not-dispensed', '0003': 'partial', '0004': 'owing' };

export interface ValidDispense {
  messageId: string;
  shortFormId: string;
  longFormId: string;
  nhsNumber: string;
  items: { itemId: string; status: ItemStatus; quantity: number; reason?: { code: string; display?: string } }[];
}

/** The MedicationRequest a MedicationDispense dispenses against: contained (#id) or another entry of the message. */
function authorisingRequest(msg: MessageBundle, dispense: Json, where: string): Json {
  const ref = dispense.authorizingPrescription?.[0]?.reference;
  if (typeof ref !== 'string') throw new FhirError(400, 'INVALID_REFERENCE', `${where}.authorizingPrescription must reference the MedicationRequest dispensed against`);
  const found = ref.startsWith('#') ? list(dispense.contained).find((c: Json) => c?.resourceType === 'MedicationRequest' && `#${c.id}` === ref) : msg.byUrl.get(ref);
  if (!found || found.resourceType !== 'MedicationRequest') throw new FhirError(400, 'INVALID_REFERENCE', `${where}.authorizingPrescription '${ref.slice(0, 80)}' does not resolve to a MedicationRequest`);
  return found;
}

/** A dispense-notification message: one MedicationDispense per item reported, all for one prescription. */
export function validateDispense(body: unknown): ValidDispense {
  const msg = readMessageBundle(body, ['dispense-notification']);
  const { nhsNumber } = messagePatient(msg);
  const dispenses = ofType(msg, 'MedicationDispense');
  if (dispenses.length === 0) throw new FhirError(400, 'INVALID_VALUE', 'A dispense notification must contain at least one MedicationDispense');
  let ids: { shortFormId?: string; longFormId?: string } | undefined;
  const seen = new Set<string>();
  const items = dispenses.map((d, i) => {
    const where = `MedicationDispense[${i}]`;
    const request = authorisingRequest(msg, d, where);
    const these = groupIds(request);
    if (ids && (these.shortFormId !== ids.shortFormId || these.longFormId !== ids.longFormId)) throw new FhirError(400, 'INVALID_VALUE', `${where} is for a different prescription: one prescription per notification`);
    ids = these;
    const itemId = identifierValue(request, ORDER_ITEM_SYSTEM)?.toLowerCase();
    if (!itemId) throw new FhirError(400, 'INVALID_VALUE', `${where}: the authorising MedicationRequest must identify the item (${ORDER_ITEM_SYSTEM})`);
    if (seen.has(itemId)) throw new FhirError(400, 'INVALID_VALUE', `${where} reports item ${itemId} twice`);
    seen.add(itemId);
    const code = codingOf(d.type, DISPENSE_TYPE_SYSTEM)?.code;
    const status = code ? OUTCOMES[code] : undefined;
    if (!status) throw new FhirError(400, 'INVALID_CODE', `${where}.type must be 0001 (dispensed), 0002 (not dispensed), 0003 (partial) or 0004 (owing) in ${DISPENSE_TYPE_SYSTEM}`);
    const quantity = d.quantity?.value;
    if (typeof quantity !== 'number' || quantity < 0 || quantity > 100_000) throw new FhirError(400, 'INVALID_VALUE', `${where}.quantity.value must be a number, 0 or more`);
    if (status === 'not-dispensed' && quantity !== 0) throw new FhirError(400, 'INVALID_VALUE', `${where}: an item not dispensed has quantity 0`);
    if ((status === 'dispensed' || status === 'partial') && quantity === 0) throw new FhirError(400, 'INVALID_VALUE', `${where}: a dispensed item needs the quantity supplied`);
    const why = codingOf(d.statusReasonCodeableConcept, NOT_DISPENSED_REASON_SYSTEM);
    if (status === 'not-dispensed' && !why) throw new FhirError(400, 'INVALID_CODE', `${where}: an item not dispensed needs the reason (statusReasonCodeableConcept, ${NOT_DISPENSED_REASON_SYSTEM})`);
    return { itemId, status, quantity, ...(status === 'not-dispensed' && why ? { reason: { code: why.code, ...(why.display ? { display: why.display } : {}) } } : {}) };
  });
  return { messageId: msg.messageId, shortFormId: ids!.shortFormId!, longFormId: ids!.longFormId!, nhsNumber, items };
}
