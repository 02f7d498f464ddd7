import type { Bundle } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { parametersOf } from '../../fhir/parameters.js';
import type { Gp2gpOptions } from './options.js';
import type { AttachmentManifest } from './transfer-model.js';
import { NHS_NUMBER_SYSTEM } from '../../fhir/identifiers.js';

/**
 * The body of POST /Task/{id}/$send, a FHIR Parameters resource:
 *   ehr         resource: the record as a Bundle (type 'collection' or 'document') about the patient
 *   attachment  (0..n) parts: id, contentType, size, sha256 (hex), chunkSize, title (optional)
 * Everything is checked before anything is stored; a refusal names the parameter at fault.
 */
export interface SendRequest {
  ehr: Bundle;
  attachments: AttachmentManifest[];
}

const ATTACHMENT_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]{1,64}\/[A-Za-z0-9!#$&^_.+-]{1,64}$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const MAX_CHUNKS_PER_ATTACHMENT = 10_000;

const invalid = (message: string) =>
  new FhirError(400, 'INVALID_VALUE', `Invalid value - ${message}`);

function part(parts: Record<string, unknown>[], name: string): Record<string, unknown> | undefined {
  return parts.find((p) => p.name === name);
}

function stringPart(
  parts: Record<string, unknown>[],
  name: string,
  where: string,
  required = true,
): string | undefined {
  const p = part(parts, name);
  const v = p?.valueString ?? p?.valueCode ?? p?.valueId;
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '')
    throw new FhirError(400, 'MISSING_VALUE', `Missing value - ${where}.${name} is required`);
  return v;
}

function integerPart(parts: Record<string, unknown>[], name: string, where: string): number {
  const p = part(parts, name);
  const v = p?.valueInteger ?? p?.valuePositiveInt ?? p?.valueUnsignedInt ?? p?.valueInteger64;
  const n = typeof v === 'string' && /^[0-9]{1,16}$/.test(v) ? Number(v) : v;
  if (n === undefined)
    throw new FhirError(400, 'MISSING_VALUE', `Missing value - ${where}.${name} is required`);
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1)
    throw invalid(`${where}.${name} must be a positive whole number`);
  return n;
}

/** The NHS Numbers the Bundle's Patient entries carry. */
function patientNumbers(bundle: Bundle): string[] {
  return (bundle.entry ?? []).flatMap((e) =>
    e?.resource?.resourceType === 'Patient'
      ? (e.resource.identifier ?? [])
          .filter((i) => i?.system === NHS_NUMBER_SYSTEM && typeof i.value === 'string')
          .map((i) => i.value!)
      : [],
  );
}

function checkEhr(raw: unknown, nhsNumber: string): Bundle {
  const bundle = raw as Bundle | undefined;
  if (!bundle || typeof bundle !== 'object')
    throw new FhirError(
      400,
      'MISSING_VALUE',
      "Missing value - parameter 'ehr' must carry the record as a Bundle resource",
    );
  if (bundle.resourceType !== 'Bundle')
    throw invalid(
      `parameter 'ehr' must be a Bundle, not ${String(bundle.resourceType).slice(0, 40)}`,
    );
  if (bundle.type !== 'collection' && bundle.type !== 'document')
    throw invalid("the EHR Bundle type must be 'collection' or 'document'");
  if (!Array.isArray(bundle.entry) || bundle.entry.length === 0)
    throw invalid('the EHR Bundle has no entries');
  if (
    bundle.entry.some(
      (e) =>
        !e || typeof e !== 'object' || !e.resource || typeof e.resource.resourceType !== 'string',
    )
  ) {
    throw invalid('every EHR Bundle entry must carry a resource');
  }
  if (bundle.type === 'document' && bundle.entry[0].resource!.resourceType !== 'Composition')
    throw invalid('a document Bundle must start with its Composition');
  const numbers = patientNumbers(bundle);
  if (!numbers.includes(nhsNumber))
    throw new FhirError(
      422,
      'INVALID_VALUE',
      `Invalid value - the EHR Bundle has no Patient entry with NHS Number ${nhsNumber}, the patient of this transfer`,
    );
  const other = numbers.find((n) => n !== nhsNumber);
  if (other)
    throw new FhirError(
      422,
      'INVALID_VALUE',
      `Invalid value - the EHR Bundle names another patient (NHS Number ${other.slice(0, 20)})`,
    );
  return bundle;
}

function checkAttachment(
  raw: Record<string, unknown>,
  index: number,
  options: Gp2gpOptions,
): AttachmentManifest {
  const where = `attachment[${index}]`;
  const parts = Array.isArray(raw.part)
    ? (raw.part as unknown[]).filter(
        (p): p is Record<string, unknown> => !!p && typeof p === 'object',
      )
    : [];
  const id = stringPart(parts, 'id', where)!;
  if (!ATTACHMENT_ID.test(id))
    throw invalid(`${where}.id must be 1-64 letters, digits, '-' or '.'`);
  const contentType = stringPart(parts, 'contentType', where)!;
  if (!MEDIA_TYPE.test(contentType))
    throw invalid(`${where}.contentType '${contentType.slice(0, 60)}' is not a media type`);
  const size = integerPart(parts, 'size', where);
  if (size > options.maxAttachmentBytes) {
    throw new FhirError(
      413,
      'MESSAGE_TOO_LARGE',
      `Attachment '${id}' is ${size} bytes; the largest accepted is ${options.maxAttachmentBytes} bytes`,
    );
  }
  const sha256 = stringPart(parts, 'sha256', where)!;
  if (!SHA256_HEX.test(sha256)) throw invalid(`${where}.sha256 must be 64 hexadecimal digits`);
  const chunkSize = integerPart(parts, 'chunkSize', where);
  if (chunkSize > options.maxChunkBytes)
    throw invalid(
      `${where}.chunkSize ${chunkSize} is over the largest chunk accepted, ${options.maxChunkBytes} bytes`,
    );
  const chunkCount = Math.ceil(size / chunkSize);
  if (chunkCount > MAX_CHUNKS_PER_ATTACHMENT)
    throw invalid(
      `${where} would need ${chunkCount} chunks; use larger chunks (at most ${MAX_CHUNKS_PER_ATTACHMENT})`,
    );
  const title = stringPart(parts, 'title', where, false);
  return {
    id,
    contentType,
    size,
    sha256: sha256.toLowerCase(),
    chunkSize,
    chunkCount,
    received: 0,
    ...(title ? { title: title.slice(0, 200) } : {}),
  };
}

export function parseSendRequest(
  body: unknown,
  nhsNumber: string,
  options: Gp2gpOptions,
): SendRequest {
  const params = parametersOf(body) as Record<string, unknown>[];
  const unknownName = params.find((p) => p.name !== 'ehr' && p.name !== 'attachment');
  if (unknownName)
    throw invalid(
      `unknown parameter '${String(unknownName.name).slice(0, 40)}'; $send takes 'ehr' and 'attachment'`,
    );
  const ehrParams = params.filter((p) => p.name === 'ehr');
  if (ehrParams.length !== 1)
    throw new FhirError(
      400,
      'MISSING_VALUE',
      "Missing value - exactly one 'ehr' parameter is required",
    );
  const ehr = checkEhr(ehrParams[0].resource, nhsNumber);
  const attachments = params
    .filter((p) => p.name === 'attachment')
    .map((p, i) => checkAttachment(p, i, options));
  if (attachments.length > options.maxAttachments)
    throw invalid(
      `${attachments.length} attachments; at most ${options.maxAttachments} per record`,
    );
  const ids = new Set<string>();
  for (const a of attachments) {
    if (ids.has(a.id)) throw invalid(`attachment id '${a.id}' is given twice`);
    ids.add(a.id);
  }
  return { ehr, attachments };
}

/** The reasons a practice may give when it cannot send or cannot integrate a record. */
export const NEGATIVE_REASONS: Readonly<Record<string, string>> = {
  'patient-not-at-surgery': 'The patient is not registered at the sending practice',
  'ehr-extract-cannot-be-processed': 'The sending system cannot produce the record',
  'non-compliant-record': 'The record received does not meet the GP2GP requirements',
  'duplicate-record': 'The record has already been received and integrated',
  'attachments-unreadable': 'Attachments could not be read or opened',
  'integration-failed': 'The receiving system could not integrate the record',
  'patient-not-registered': 'The patient is not registered at the requesting practice',
  other: 'Another reason, given in the text',
};
