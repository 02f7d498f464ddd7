import { FhirError } from '../../fhir/errors.js';
import { requireNhsNumber } from '../../fhir/nhs-number.js';
import { isValidShortFormId, LONG_FORM_ID } from './short-form-id.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';

/** Reading EPS message Bundles: the shared shape checks every message kind needs. */
export const MESSAGE_EVENT_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/message-event';
export const ORDER_NUMBER_SYSTEM = 'https://fhir.nhs.uk/Id/prescription-order-number';
export const ORDER_ITEM_SYSTEM = 'https://fhir.nhs.uk/Id/prescription-order-item-number';
export const PRESCRIPTION_ID_URL =
  'https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionId';
export const PRESCRIPTION_ID_SYSTEM = 'https://fhir.nhs.uk/Id/prescription';
export const SNOMED = 'http://snomed.info/sct';

export type Json = Record<string, any>;

/** The value when it is an array, else none: a malformed message may put anything where a list belongs. */
export function list(value: unknown): any[] {
  return Array.isArray(value) ? value : [];
}

const invalid = (why: string) => new FhirError(400, 'INVALID_VALUE', why);

export interface MessageBundle {
  bundle: Json;
  /** Bundle.identifier.value: the message id. */
  messageId: string;
  event: string;
  header: Json;
  /** Resources by fullUrl. */
  byUrl: Map<string, Json>;
  resources: Json[];
}

/** A Bundle of type message, its MessageHeader first, every entry with a resource and its fullUrl. */
export function readMessageBundle(body: unknown, events: readonly string[]): MessageBundle {
  const bundle = body as Json;
  if (!bundle || typeof bundle !== 'object' || bundle.resourceType !== 'Bundle')
    throw invalid('The request body must be a FHIR Bundle');
  if (bundle.type !== 'message') throw invalid("Bundle.type must be 'message'");
  const messageId = bundle.identifier?.value;
  if (typeof messageId !== 'string' || !LONG_FORM_ID.test(messageId))
    throw invalid('Bundle.identifier.value must be a UUID identifying the message');
  if (!Array.isArray(bundle.entry) || bundle.entry.length === 0 || bundle.entry.length > 100)
    throw invalid('Bundle.entry must hold between 1 and 100 entries');
  const byUrl = new Map<string, Json>();
  const resources: Json[] = [];
  for (const [i, e] of bundle.entry.entries()) {
    if (
      !e ||
      typeof e !== 'object' ||
      !e.resource ||
      typeof e.resource !== 'object' ||
      typeof e.resource.resourceType !== 'string'
    )
      throw invalid(`Bundle.entry[${i}] has no resource`);
    if (typeof e.fullUrl === 'string') byUrl.set(e.fullUrl, e.resource);
    resources.push(e.resource);
  }
  const header = resources[0];
  if (header.resourceType !== 'MessageHeader')
    throw invalid('The first entry of a message Bundle must be its MessageHeader');
  const event = header.eventCoding?.code;
  if (header.eventCoding?.system !== MESSAGE_EVENT_SYSTEM || !events.includes(event)) {
    throw invalid(
      `MessageHeader.eventCoding.code must be one of ${events.map((e) => `'${e}'`).join(' or ')} (system ${MESSAGE_EVENT_SYSTEM})`,
    );
  }
  return { bundle, messageId, event, header, byUrl, resources };
}

export function ofType(msg: MessageBundle, type: string): Json[] {
  return msg.resources.filter((r) => r.resourceType === type);
}

export function identifierValue(resource: Json | undefined, system: string): string | undefined {
  const list = Array.isArray(resource?.identifier)
    ? resource!.identifier
    : resource?.identifier
      ? [resource.identifier]
      : [];
  const found = list.find((i: Json) => i?.system === system)?.value;
  return typeof found === 'string' ? found : undefined;
}

/** The one Patient of the message and its NHS Number (valid modulus 11). */
export function messagePatient(msg: MessageBundle): { patient: Json; nhsNumber: string } {
  const patients = ofType(msg, 'Patient');
  if (patients.length !== 1) throw invalid('The message must contain exactly one Patient');
  const nhsNumber = requireNhsNumber(
    identifierValue(patients[0], NHS_NUMBER_SYSTEM),
    'Patient.identifier',
  );
  return { patient: patients[0], nhsNumber };
}

/** The short-form and long-form ids of a MedicationRequest's groupIdentifier (either may be absent when `optional`). */
export function groupIds(
  request: Json,
  optional = false,
): { shortFormId?: string; longFormId?: string } {
  const group = request?.groupIdentifier;
  const shortFormId =
    group?.system === ORDER_NUMBER_SYSTEM && typeof group.value === 'string'
      ? group.value
      : undefined;
  const ext = list(group?.extension).find((e: Json) => e?.url === PRESCRIPTION_ID_URL);
  const longFormId =
    typeof ext?.valueIdentifier?.value === 'string' ? ext.valueIdentifier.value : undefined;
  if (optional && shortFormId === undefined && longFormId === undefined) return {};
  if (!shortFormId || !isValidShortFormId(shortFormId))
    throw new FhirError(
      400,
      'INVALID_PRESCRIPTION_ID',
      `Short-form prescription ID '${String(shortFormId ?? '').slice(0, 24)}' is not valid (format RRRRRR-OOOOOO-SSSSSC with a MOD 37-2 check character)`,
    );
  if (!longFormId || !LONG_FORM_ID.test(longFormId))
    throw new FhirError(
      400,
      'INVALID_PRESCRIPTION_ID',
      'The long-form prescription ID (groupIdentifier extension PrescriptionId) must be a UUID',
    );
  return { shortFormId, longFormId: longFormId.toLowerCase() };
}

export function odsOf(ref: Json | undefined): string | undefined {
  const v = ref?.identifier?.system === ODS_SYSTEM ? ref.identifier.value : undefined;
  return typeof v === 'string' ? v.toUpperCase() : undefined;
}

export function codingOf(
  concept: Json | undefined,
  system?: string,
): { system: string; code: string; display?: string } | undefined {
  const c = list(concept?.coding).find(
    (x: Json) => x && typeof x.code === 'string' && (!system || x.system === system),
  );
  return c
    ? {
        system: c.system,
        code: c.code,
        ...(typeof c.display === 'string' ? { display: c.display } : {}),
      }
    : undefined;
}
