import { FhirError } from '../../fhir/errors.js';
import {
  codingOf, groupIds, identifierValue, messagePatient, odsOf, ofType, ORDER_ITEM_SYSTEM, ORDER_NUMBER_SYSTEM, PRESCRIPTION_ID_SYSTEM,
  PRESCRIPTION_ID_URL, readMessageBundle, SNOMED, type Json, type MessageBundle,
} from './message-bundle.js';
import type { PrescriptionType } from './prescription-model.js';
import { newLongFormId, newShortFormId, odsPart } from './short-form-id.js';

/** A prescription-order message, checked: what $process-message stores. */
export interface ValidOrder {
  msg: MessageBundle;
  shortFormId: string;
  longFormId: string;
  nhsNumber: string;
  prescriberOrg: string;
  type: PrescriptionType;
  /** Issues of a repeat-dispensing prescription (1 otherwise) and the days between them. */
  issues: number;
  intervalDays: number;
  validityStart: string;
  validityEnd?: string;
  performer?: string;
  items: { id: string; medication: { system: string; code: string; display?: string }; quantity: { value: number; unit?: string }; dosage?: string }[];
}

const invalid = (why: string) => new FhirError(400, 'INVALID_VALUE', why);
const COURSE_TYPES: Record<string, PrescriptionType> = { acute: 'acute', continuous: 'repeat-prescribing', 'continuous-repeat-dispensing': 'repeat-dispensing' };
/** EPS allows at most four items on one prescription. */
export const MAX_ITEMS = 4;
const MAX_ISSUES = 26;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** $prepare may be sent an order without ids: it assigns both to every item, before anything is signed. */
export function assignIds(body: unknown, prescriberOrg: string): { assigned: boolean } {
  const msg = readMessageBundle(body, ['prescription-order']);
  const requests = ofType(msg, 'MedicationRequest');
  if (requests.length === 0 || requests.some((r) => Object.keys(groupIds(r, true)).length > 0)) return { assigned: false };
  const shortFormId = newShortFormId(prescriberOrg);
  const longFormId = newLongFormId();
  for (const r of requests) {
    r.groupIdentifier = { system: ORDER_NUMBER_SYSTEM, value: shortFormId, extension: [{ url: PRESCRIPTION_ID_URL, valueIdentifier: { system: PRESCRIPTION_ID_SYSTEM, value: longFormId } }] };
  }
  return { assigned: true };
}

/** Checks a whole prescription-order message; `callerOrg` must be the sending practice. */
export function validateOrder(body: unknown, callerOrg: string): ValidOrder {
  const msg = readMessageBundle(body, ['prescription-order']);
  const prescriberOrg = odsOf(msg.header.sender);
  if (!prescriberOrg) throw invalid('MessageHeader.sender must identify the prescribing organisation by ODS code');
  if (prescriberOrg !== callerOrg.toUpperCase()) throw new FhirError(403, 'ACCESS_DENIED', `The message is sent by ${prescriberOrg}, but the caller acts for ${callerOrg || '(no organisation)'}`);
  const { patient, nhsNumber } = messagePatient(msg);
  for (const type of ['Practitioner', 'PractitionerRole', 'Organization']) if (ofType(msg, type).length === 0) throw invalid(`The message must contain a ${type}`);
  const patientUrls = new Set([...msg.byUrl].filter(([, r]) => r === patient).map(([u]) => u));
  const requests = ofType(msg, 'MedicationRequest');
  if (requests.length === 0) throw invalid('A prescription must contain at least one MedicationRequest');
  if (requests.length > MAX_ITEMS) throw invalid(`A prescription may contain at most ${MAX_ITEMS} MedicationRequests`);
  const first = groupIds(requests[0]);
  if (first.shortFormId!.slice(7, 13) !== odsPart(prescriberOrg)) {
    throw new FhirError(400, 'INVALID_PRESCRIPTION_ID', `Short-form ID ${first.shortFormId} does not carry the prescriber's ODS code ${prescriberOrg}`);
  }
  const course = codingOf(requests[0].courseOfTherapyType)?.code;
  const type = course ? COURSE_TYPES[course] : undefined;
  if (!type) throw invalid(`MedicationRequest.courseOfTherapyType must be one of ${Object.keys(COURSE_TYPES).join(', ')}`);
  const items: ValidOrder['items'] = [];
  const seen = new Set<string>();
  for (const [i, r] of requests.entries()) {
    const where = `MedicationRequest[${i}]`;
    const ids = groupIds(r);
    if (ids.shortFormId !== first.shortFormId || ids.longFormId !== first.longFormId) throw invalid(`${where}.groupIdentifier differs from the other items: one prescription per message`);
    if (codingOf(r.courseOfTherapyType)?.code !== course) throw invalid(`${where}.courseOfTherapyType differs from the other items`);
    if (r.status !== 'active') throw invalid(`${where}.status must be 'active' on a new prescription`);
    if (!['order', 'original-order', 'instance-order'].includes(r.intent)) throw invalid(`${where}.intent must be order, original-order or instance-order`);
    const id = identifierValue(r, ORDER_ITEM_SYSTEM);
    if (!id || !/^[0-9a-fA-F-]{36}$/.test(id) || seen.has(id)) throw invalid(`${where} needs a unique UUID identifier in ${ORDER_ITEM_SYSTEM}`);
    seen.add(id);
    const medication = codingOf(r.medicationCodeableConcept, SNOMED);
    if (!medication || !/^\d{6,18}$/.test(medication.code)) throw new FhirError(400, 'INVALID_CODE', `${where}.medicationCodeableConcept must carry a dm+d (SNOMED CT) code`);
    if (!patientUrls.has(r.subject?.reference)) throw new FhirError(400, 'INVALID_REFERENCE', `${where}.subject must reference the message's Patient`);
    if (typeof r.requester?.reference !== 'string' || !msg.byUrl.has(r.requester.reference)) throw new FhirError(400, 'INVALID_REFERENCE', `${where}.requester must reference a resource in the message`);
    const quantity = r.dispenseRequest?.quantity;
    if (typeof quantity?.value !== 'number' || !(quantity.value > 0) || quantity.value > 100_000) throw invalid(`${where}.dispenseRequest.quantity.value must be a positive number`);
    const dosage = r.dosageInstruction?.[0]?.text;
    items.push({ id: id.toLowerCase(), medication, quantity: { value: quantity.value, ...(typeof quantity.unit === 'string' ? { unit: quantity.unit } : {}) }, ...(typeof dosage === 'string' ? { dosage } : {}) });
  }
  const dispense = requests[0].dispenseRequest ?? {};
  const validityStart = dispense.validityPeriod?.start ?? new Date().toISOString().slice(0, 10);
  const validityEnd = dispense.validityPeriod?.end;
  if (!DATE.test(validityStart) || (validityEnd !== undefined && (!DATE.test(validityEnd) || validityEnd < validityStart))) {
    throw invalid('dispenseRequest.validityPeriod must have a start date (YYYY-MM-DD) and an end date not before it');
  }
  let issues = 1, intervalDays = 0;
  if (type === 'repeat-dispensing') {
    const repeats = dispense.numberOfRepeatsAllowed;
    const supply = dispense.expectedSupplyDuration;
    if (!Number.isInteger(repeats) || repeats < 1 || repeats >= MAX_ISSUES) throw invalid(`A repeat-dispensing prescription needs dispenseRequest.numberOfRepeatsAllowed between 1 and ${MAX_ISSUES - 1}`);
    if (!Number.isInteger(supply?.value) || supply.value < 1 || supply.value > 365 || (supply.code ?? 'd') !== 'd') throw invalid('A repeat-dispensing prescription needs dispenseRequest.expectedSupplyDuration in whole days (1 to 365): the interval between issues');
    issues = repeats + 1;
    intervalDays = supply.value;
  }
  return {
    msg, shortFormId: first.shortFormId!, longFormId: first.longFormId!, nhsNumber, prescriberOrg, type, issues, intervalDays,
    validityStart, ...(validityEnd ? { validityEnd } : {}), performer: odsOf(dispense.performer), items,
  };
}

/** The Provenance signature on an order: the compact JWS the prescriber made over the digest. */
export function orderSignature(msg: MessageBundle): string {
  const provenances = ofType(msg, 'Provenance');
  if (provenances.length !== 1) throw new FhirError(400, 'INVALID_SIGNATURE', 'A prescription must carry exactly one Provenance with the prescriber\'s signature');
  const data = provenances[0].signature?.[0]?.data;
  if (typeof data !== 'string' || data.length === 0 || data.length > 20_000) throw new FhirError(400, 'INVALID_SIGNATURE', 'Provenance.signature[0].data must hold the signature (base64 of a compact JWS)');
  return Buffer.from(data, 'base64').toString('utf8');
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(date + 'T00:00:00Z') + days * 86_400_000).toISOString().slice(0, 10);
}

/** Json re-exported for the services that read other parts of the message. */
export type { Json };
