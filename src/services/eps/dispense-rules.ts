import { FhirError } from '../../fhir/errors.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { LONG_FORM_ID } from './short-form-id.js';
import {
  codingOf,
  groupIds,
  identifierValue,
  list,
  messagePatient,
  ofType,
  ORDER_ITEM_SYSTEM,
  readMessageBundle,
  type Json,
  type MessageBundle,
} from './message-bundle.js';
import type { ItemStatus } from './state-machine.js';
import { NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';

export const DISPENSE_TYPE_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/medicationdispense-type';
export const NOT_DISPENSED_REASON_SYSTEM =
  'https://fhir.nhs.uk/CodeSystem/medicationdispense-status-reason';
/** MessageHeader extension naming the notification an amended one replaces. */
export const REPLACEMENT_OF_URL = 'https://fhir.nhs.uk/StructureDefinition/Extension-replacementOf';
/** The prescription-level reason nothing was dispensed: one value for the whole notification. */
export const NON_DISPENSING_REASON_URL =
  'https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionNonDispensingReason';

/** Item outcomes a dispense notification may report (medicationdispense-type codes). */
const OUTCOMES: Record<string, ItemStatus> = {
  '0001': 'dispensed',
  '0002': 'not-dispensed',
  '0003': 'partial',
  '0004': 'owing',
  '0005': 'not-dispensed',
};

export interface ValidDispense {
  messageId: string;
  shortFormId: string;
  longFormId: string;
  nhsNumber: string;
  /** The message id of the notification this one amends (MessageHeader extension replacementOf). */
  replaces?: string;
  items: {
    itemId: string;
    status: ItemStatus;
    quantity: number;
    reason?: { code: string; display?: string };
  }[];
}

/** The MedicationRequest a MedicationDispense dispenses against: contained (#id) or another entry of the message. */
function authorisingRequest(msg: MessageBundle, dispense: Json, where: string): Json {
  const ref = dispense.authorizingPrescription?.[0]?.reference;
  if (typeof ref !== 'string')
    throw new FhirError(
      400,
      'INVALID_REFERENCE',
      `${where}.authorizingPrescription must reference the MedicationRequest dispensed against`,
    );
  const found = ref.startsWith('#')
    ? list(dispense.contained).find(
        (c: Json) => c?.resourceType === 'MedicationRequest' && `#${c.id}` === ref,
      )
    : msg.byUrl.get(ref);
  if (!found || found.resourceType !== 'MedicationRequest')
    throw new FhirError(
      400,
      'INVALID_REFERENCE',
      `${where}.authorizingPrescription '${ref.slice(0, 80)}' does not resolve to a MedicationRequest`,
    );
  return found;
}

/**
 * The patient of a notification: its Patient resource when it carries one, else (as NHS England
 * publishes them) the NHS Number every MedicationDispense.subject.identifier gives, all the same.
 */
function notificationPatient(msg: MessageBundle): string {
  if (ofType(msg, 'Patient').length > 0) return messagePatient(msg).nhsNumber;
  const numbers = new Set(
    ofType(msg, 'MedicationDispense').map((d) => identifierValue(d.subject, NHS_NUMBER_SYSTEM)),
  );
  const [nhsNumber] = [...numbers];
  if (numbers.size !== 1 || !nhsNumber || !isValidNhsNumber(nhsNumber)) {
    throw new FhirError(
      400,
      'INVALID_RESOURCE_ID',
      'The notification must name its patient: a Patient, or the same valid NHS Number in every MedicationDispense.subject.identifier',
    );
  }
  return nhsNumber;
}

/** A dispense-notification message: one MedicationDispense per item reported, all for one prescription. */
export function validateDispense(body: unknown): ValidDispense {
  const msg = readMessageBundle(body, ['dispense-notification']);
  const nhsNumber = notificationPatient(msg);
  const dispenses = ofType(msg, 'MedicationDispense');
  if (dispenses.length === 0)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'A dispense notification must contain at least one MedicationDispense',
    );
  let ids: { shortFormId?: string; longFormId?: string } | undefined;
  // a prescription-level non-dispensing reason belongs to the prescription: the same on every MedicationDispense
  const nonDispensing = new Set(
    dispenses.map((d) =>
      JSON.stringify(
        list(d.extension).find((e: Json) => e?.url === NON_DISPENSING_REASON_URL)?.valueCoding
          ?.code ?? null,
      ),
    ),
  );
  if (nonDispensing.size > 1)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'Expected all MedicationDispenses to have the same value for MedicationDispense.extension:prescriptionNonDispensingReason',
    );
  const replaces = list(msg.header.extension).find((e: Json) => e?.url === REPLACEMENT_OF_URL)
    ?.valueIdentifier?.value;
  if (replaces !== undefined && (typeof replaces !== 'string' || !LONG_FORM_ID.test(replaces)))
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'MessageHeader extension replacementOf must name the replaced notification by its message id (a UUID)',
    );
  const byItem = new Map<string, ValidDispense['items'][number]>();
  dispenses.forEach((d, i) => {
    const where = `MedicationDispense[${i}]`;
    const request = authorisingRequest(msg, d, where);
    const these = groupIds(request);
    if (ids && (these.shortFormId !== ids.shortFormId || these.longFormId !== ids.longFormId))
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `${where} is for a different prescription: one prescription per notification`,
      );
    ids = these;
    const itemId = identifierValue(request, ORDER_ITEM_SYSTEM)?.toLowerCase();
    if (!itemId)
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `${where}: the authorising MedicationRequest must identify the item (${ORDER_ITEM_SYSTEM})`,
      );
    const code = codingOf(d.type, DISPENSE_TYPE_SYSTEM)?.code;
    const reported = code ? OUTCOMES[code] : undefined;
    if (!reported)
      throw new FhirError(
        400,
        'INVALID_CODE',
        `${where}.type must be 0001 (dispensed), 0002 (not dispensed), 0003 (partial), 0004 (owing) or 0005 (cancelled) in ${DISPENSE_TYPE_SYSTEM}`,
      );
    const quantity = d.quantity?.value;
    if (typeof quantity !== 'number' || quantity < 0 || quantity > 100_000)
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `${where}.quantity.value must be a number, 0 or more`,
      );
    // nothing supplied (an item reported dispensed with quantity 0, or cancelled at the pharmacy)
    // is an item not dispensed
    const nothing =
      code === '0005' || ((reported === 'dispensed' || reported === 'partial') && quantity === 0);
    const status: ItemStatus = nothing ? 'not-dispensed' : reported;
    const why = codingOf(d.statusReasonCodeableConcept, NOT_DISPENSED_REASON_SYSTEM);
    if (status === 'not-dispensed' && !nothing && !why)
      throw new FhirError(
        400,
        'INVALID_CODE',
        `${where}: an item not dispensed needs the reason (statusReasonCodeableConcept, ${NOT_DISPENSED_REASON_SYSTEM})`,
      );
    // NHS England's notifications give an item not dispensed the quantity prescribed: nothing was supplied
    const item = {
      itemId,
      status,
      quantity: status === 'not-dispensed' ? 0 : quantity,
      ...(status === 'not-dispensed' && why
        ? { reason: { code: why.code, ...(why.display ? { display: why.display } : {}) } }
        : {}),
    };
    // one item supplied as several products (a MedicationDispense each): one outcome, the quantities added up
    const earlier = byItem.get(itemId);
    if (earlier && earlier.status !== item.status)
      throw new FhirError(
        400,
        'INVALID_VALUE',
        `${where} reports item ${itemId} as '${item.status}', another MedicationDispense as '${earlier.status}'`,
      );
    if (earlier) earlier.quantity += item.quantity;
    else byItem.set(itemId, item);
  });
  return {
    messageId: msg.messageId,
    shortFormId: ids!.shortFormId!,
    longFormId: ids!.longFormId!,
    nhsNumber,
    ...(replaces ? { replaces: replaces.toLowerCase() } : {}),
    items: [...byItem.values()],
  };
}
