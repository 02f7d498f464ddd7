import { FhirError } from '../../fhir/errors.js';
import {
  codingOf,
  groupIds,
  identifierValue,
  messagePatient,
  odsOf,
  ofType,
  ORDER_ITEM_SYSTEM,
  ORDER_NUMBER_SYSTEM,
  PRESCRIPTION_ID_SYSTEM,
  PRESCRIPTION_ID_URL,
  readMessageBundle,
  SNOMED,
  type Json,
  type MessageBundle,
} from './message-bundle.js';
import type { PrescriptionType } from './prescription-model.js';
import {
  isValidShortFormId,
  newLongFormId,
  newShortFormId,
  SHORT_FORM_ID,
} from './short-form-id.js';
import { ODS_SYSTEM } from '../../fhir/identifiers.js';

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
  items: {
    id: string;
    medication: { system: string; code: string; display?: string };
    quantity: { value: number; unit?: string };
    dosage?: string;
  }[];
}

const invalid = (why: string) => new FhirError(400, 'INVALID_VALUE', why);
const COURSE_TYPES: Record<string, PrescriptionType> = {
  acute: 'acute',
  continuous: 'repeat-prescribing',
  'continuous-repeat-dispensing': 'repeat-dispensing',
};
/** EPS allows at most four items on one prescription. */
export const MAX_ITEMS = 4;
const MAX_ISSUES = 26;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Whether a MedicationRequest names its prescription's ids; ids named but invalid count, and
 * validateOrder says why.
 */
function namesIds(r: Json): boolean {
  try {
    return Object.keys(groupIds(r, true)).length > 0;
  } catch {
    return true;
  }
}

/**
 * As EPS refuses a short-form ID whose MOD 37-2 check character is wrong (published:
 * examples/errors/1-Process-Response-Send-400_INVALID_CHECKSUM.json): 'processing',
 * FAILURE_TO_PROCESS_MESSAGE, "... - prescriptionID has invalid checksum". Other malformed ids stay
 * INVALID_PRESCRIPTION_ID (groupIds).
 */
function checkChecksums(requests: Json[]): void {
  for (const r of requests) {
    const value =
      r?.groupIdentifier?.system === ORDER_NUMBER_SYSTEM ? r.groupIdentifier.value : undefined;
    if (typeof value === 'string' && SHORT_FORM_ID.test(value) && !isValidShortFormId(value)) {
      throw new FhirError(
        400,
        'FAILURE_TO_PROCESS_MESSAGE',
        `Short-form prescription ID '${value}' has an invalid check character (MOD 37-2)`,
        {},
        {
          display:
            'Unable to process message. Information missing or invalid - prescriptionID has invalid checksum',
        },
      );
    }
  }
}

/** $prepare may be sent an order without ids: it assigns both to every item, before anything is signed. */
export function assignIds(body: unknown, prescriberOrg: string): { assigned: boolean } {
  const msg = readMessageBundle(body, ['prescription-order']);
  const requests = ofType(msg, 'MedicationRequest');
  if (requests.length === 0 || requests.some(namesIds)) return { assigned: false };
  const shortFormId = newShortFormId(prescriberOrg);
  const longFormId = newLongFormId();
  for (const r of requests) {
    r.groupIdentifier = {
      system: ORDER_NUMBER_SYSTEM,
      value: shortFormId,
      extension: [
        {
          url: PRESCRIPTION_ID_URL,
          valueIdentifier: { system: PRESCRIPTION_ID_SYSTEM, value: longFormId },
        },
      ],
    };
  }
  return { assigned: true };
}

/** Checks a whole prescription-order message; `callerOrg` must be the sending practice. */
export function validateOrder(body: unknown, callerOrg: string): ValidOrder {
  const msg = readMessageBundle(body, ['prescription-order']);
  const prescriberOrg = senderOrg(msg);
  if (!prescriberOrg)
    throw invalid('MessageHeader.sender must identify the prescribing organisation by ODS code');
  if (prescriberOrg !== callerOrg.toUpperCase())
    throw new FhirError(
      403,
      'ACCESS_DENIED',
      `The message is sent by ${prescriberOrg}, but the caller acts for ${callerOrg || '(no organisation)'}`,
    );
  const { patient, nhsNumber } = messagePatient(msg);
  // the Practitioner and Organization may be named by identifier on the PractitionerRole instead of included
  if (ofType(msg, 'PractitionerRole').length === 0)
    throw invalid('The message must contain a PractitionerRole');
  const patientUrls = new Set([...msg.byUrl].filter(([, r]) => r === patient).map(([u]) => u));
  const requests = ofType(msg, 'MedicationRequest');
  if (requests.length === 0)
    throw invalid('A prescription must contain at least one MedicationRequest');
  // as EPS words and types it (published: bulk-translation/1-Prepare-Response-400_Bad_Request.json)
  if (requests.length > MAX_ITEMS)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      `Bundle contains too many resources of type MedicationRequest. Expected at most ${MAX_ITEMS}.`,
      {},
      { issueCode: 'processing' },
    );
  // the short-form ID's organisation part is not checked against the sender: EPS verifies its check
  // character only (published prescriptions carry the prescribing PractitionerRole's organisation,
  // another code, or none there, and are accepted)
  checkChecksums(requests);
  const first = groupIds(requests[0]);
  // as EPS: every item the same course of therapy, or a mixture of acute and continuous (repeat prescribing)
  const courses = new Set(requests.map((r) => codingOf(r.courseOfTherapyType)?.code));
  const mixed = courses.size === 2 && courses.has('acute') && courses.has('continuous');
  // published (errors/2-*-Invalid_Course_of_Therapy_mixed.json): 'invalid', severity 'fatal', the reason as the display
  if (courses.size > 1 && !mixed) {
    const why =
      "Course of therapy type must either match for all MedicationRequests or be a mixture of 'acute' and 'continuous'.";
    throw new FhirError(
      400,
      'INVALID_VALUE',
      why,
      {},
      { issueCode: 'invalid', severity: 'fatal', display: why },
    );
  }
  const course = mixed ? 'continuous' : codingOf(requests[0].courseOfTherapyType)?.code;
  const type = course ? COURSE_TYPES[course] : undefined;
  if (!type)
    throw invalid(
      `MedicationRequest.courseOfTherapyType must be one of ${Object.keys(COURSE_TYPES).join(', ')}`,
    );
  const items: ValidOrder['items'] = [];
  const seen = new Set<string>();
  for (const [i, r] of requests.entries()) {
    const where = `MedicationRequest[${i}]`;
    const ids = groupIds(r);
    if (ids.shortFormId !== first.shortFormId || ids.longFormId !== first.longFormId)
      throw invalid(
        `${where}.groupIdentifier differs from the other items: one prescription per message`,
      );
    if (r.status !== 'active')
      throw invalid(`${where}.status must be 'active' on a new prescription`);
    if (!['order', 'original-order', 'instance-order'].includes(r.intent))
      throw invalid(`${where}.intent must be order, original-order or instance-order`);
    const id = identifierValue(r, ORDER_ITEM_SYSTEM);
    if (!id || !/^[0-9a-fA-F-]{36}$/.test(id) || seen.has(id))
      throw invalid(`${where} needs a unique UUID identifier in ${ORDER_ITEM_SYSTEM}`);
    seen.add(id);
    const medication = codingOf(
      r.medicationCodeableConcept ?? medicationOf(msg, r.medicationReference)?.code,
      SNOMED,
    );
    if (!medication || !/^\d{6,18}$/.test(medication.code))
      throw new FhirError(
        400,
        'INVALID_CODE',
        `${where}.medicationCodeableConcept must carry a dm+d (SNOMED CT) code`,
      );
    if (!patientUrls.has(r.subject?.reference))
      throw new FhirError(
        400,
        'INVALID_REFERENCE',
        `${where}.subject must reference the message's Patient`,
      );
    if (typeof r.requester?.reference !== 'string' || !msg.byUrl.has(r.requester.reference))
      throw new FhirError(
        400,
        'INVALID_REFERENCE',
        `${where}.requester must reference a resource in the message`,
      );
    const quantity = r.dispenseRequest?.quantity;
    if (typeof quantity?.value !== 'number' || !(quantity.value > 0) || quantity.value > 100_000)
      throw invalid(`${where}.dispenseRequest.quantity.value must be a positive number`);
    const dosage = r.dosageInstruction?.[0]?.text;
    items.push({
      id: id.toLowerCase(),
      medication,
      quantity: {
        value: quantity.value,
        ...(typeof quantity.unit === 'string' ? { unit: quantity.unit } : {}),
      },
      ...(typeof dosage === 'string' ? { dosage } : {}),
    });
  }
  const dispense = requests[0].dispenseRequest ?? {};
  // FHIR dateTime or date (published prescriptions end a validity period at '2021-05-18T23:59:59Z'): the day counts
  const day = (v: unknown) => (typeof v === 'string' && DATE_TIME.test(v) ? v.slice(0, 10) : v);
  const validityStart = day(
    dispense.validityPeriod?.start ?? new Date().toISOString().slice(0, 10),
  ) as string;
  const validityEnd = day(dispense.validityPeriod?.end) as string | undefined;
  if (
    !DATE.test(validityStart) ||
    (validityEnd !== undefined && (!DATE.test(validityEnd) || validityEnd < validityStart))
  ) {
    throw invalid(
      'dispenseRequest.validityPeriod must have a start date (YYYY-MM-DD) and an end date not before it',
    );
  }
  let issues = 1,
    intervalDays = 0;
  if (type === 'repeat-dispensing') {
    const repeats = dispense.numberOfRepeatsAllowed;
    const supply = dispense.expectedSupplyDuration;
    if (!Number.isInteger(repeats) || repeats < 1 || repeats >= MAX_ISSUES)
      throw invalid(
        `A repeat-dispensing prescription needs dispenseRequest.numberOfRepeatsAllowed between 1 and ${MAX_ISSUES - 1}`,
      );
    if (
      !Number.isInteger(supply?.value) ||
      supply.value < 1 ||
      supply.value > 365 ||
      (supply.code ?? 'd') !== 'd'
    )
      throw invalid(
        'A repeat-dispensing prescription needs dispenseRequest.expectedSupplyDuration in whole days (1 to 365): the interval between issues',
      );
    issues = repeats + 1;
    intervalDays = supply.value;
  }
  return {
    msg,
    shortFormId: first.shortFormId!,
    longFormId: first.longFormId!,
    nhsNumber,
    prescriberOrg,
    type,
    issues,
    intervalDays,
    validityStart,
    ...(validityEnd ? { validityEnd } : {}),
    performer: odsOf(dispense.performer),
    items,
  };
}

/** The Medication a MedicationRequest.medicationReference names: in the message, or contained. */
function medicationOf(msg: MessageBundle, ref: Json | undefined): Json | undefined {
  const target = typeof ref?.reference === 'string' ? msg.byUrl.get(ref.reference) : undefined;
  return target?.resourceType === 'Medication' ? target : undefined;
}

/**
 * The sending organisation's ODS code. MessageHeader.sender names it by identifier (with or without
 * a display), or references the Organization, or the PractitionerRole whose organization it is.
 */
export function senderOrg(msg: MessageBundle): string | undefined {
  const sender = msg.header.sender;
  const direct = odsOf(sender);
  if (direct) return direct;
  const target =
    typeof sender?.reference === 'string' ? msg.byUrl.get(sender.reference) : undefined;
  const orgOf = (org: Json | undefined) => identifierValue(org, ODS_SYSTEM)?.toUpperCase();
  if (target?.resourceType === 'Organization') return orgOf(target);
  if (target?.resourceType === 'PractitionerRole') {
    const ref = target.organization;
    return (
      odsOf(ref) ??
      (typeof ref?.reference === 'string' &&
      msg.byUrl.get(ref.reference)?.resourceType === 'Organization'
        ? orgOf(msg.byUrl.get(ref.reference))
        : undefined)
    );
  }
  return undefined;
}

/** The Provenance signature on an order: the compact JWS the prescriber made over the digest. */
export function orderSignature(msg: MessageBundle): string {
  const provenances = ofType(msg, 'Provenance');
  if (provenances.length !== 1)
    throw new FhirError(
      400,
      'INVALID_SIGNATURE',
      "A prescription must carry exactly one Provenance with the prescriber's signature",
    );
  const data = provenances[0].signature?.[0]?.data;
  if (typeof data !== 'string' || data.length === 0 || data.length > 20_000)
    throw new FhirError(
      400,
      'INVALID_SIGNATURE',
      'Provenance.signature[0].data must hold the signature (base64 of a compact JWS)',
    );
  return Buffer.from(data, 'base64').toString('utf8');
}

export function addDays(date: string, days: number): string {
  return new Date(Date.parse(date + 'T00:00:00Z') + days * 86_400_000).toISOString().slice(0, 10);
}

/** Json re-exported for the services that read other parts of the message. */
export type { Json };
