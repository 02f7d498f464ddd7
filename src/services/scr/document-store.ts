import { randomUUID } from 'node:crypto';
import { FhirError } from '../../fhir/errors.js';
import { VersionConflictError } from '../../store/errors.js';
import type { AuditRecord } from '../../audit/types.js';
import type { ResourceStore } from '../../store/resource-store.js';
import type { RequestRecord } from '../../store/request-log.js';
import { readConsentState } from './consent-store.js';
import {
  CORE_TYPES,
  SCR_DOCUMENT_TYPE,
  SCR_POINTER_TYPE,
  type ScrDocument,
  type ScrPointer,
} from './document-model.js';
import type { ValidDocument } from './document-rules.js';
import { documentUploaded } from './document-events.js';

/** More SCR versions than any patient accrues; listing stops here rather than scanning without end. */
const MAX_VERSIONS = 1000;

/** The patient's current-document pointer and its stored version (0: the patient has no SCR yet). */
export async function readPointer(
  repo: ResourceStore,
  nhs: string,
): Promise<{ pointer: ScrPointer | null; version: number }> {
  const stored = await repo.read(SCR_POINTER_TYPE, nhs);
  return stored
    ? { pointer: stored.resource, version: stored.version }
    : { pointer: null, version: 0 };
}

/** Resource types in the document beyond the core SCR (conditions, procedures, observations...). */
function additionalEntryTypes(doc: ValidDocument): string[] {
  return [
    ...new Set(
      (doc.bundle.entry ?? [])
        .map((e) => e.resource?.resourceType ?? '')
        .filter((t) => t && !CORE_TYPES.has(t)),
    ),
  ];
}

/** Thrown (as a 403) when the patient has dissented: nothing is stored. */
export function dissentError(): FhirError {
  return new FhirError(
    403,
    'SCR_DISSENT',
    'The patient has dissented from having a Summary Care Record; the document was not stored',
  );
}

/**
 * Stores a validated document as the patient's new current SCR. The document (new, immutable) and
 * the pointer (version-checked against what was read) commit together with the audit entry and,
 * when given, the request record, so two uploads racing for one patient cannot both become
 * version n+1: the second commit is refused as a whole and nothing of it is stored.
 *
 * Dissent is checked after the pointer is read, and recording dissent writes the pointer in the
 * same commit as the consent state: a dissent that this check did not see committed after the
 * pointer read, so it moved the pointer and this commit fails its version check. After a conflict
 * the consent state is read again, and a dissent recorded meanwhile is the answer (403).
 */
export async function storeNewVersion(
  repo: ResourceStore,
  doc: ValidDocument,
  meta: { uploadedBy: string; authorOrg: string },
  audit: (d: ScrDocument) => AuditRecord,
  request?: (d: ScrDocument) => RequestRecord | undefined,
): Promise<ScrDocument> {
  const nhs = doc.subjectNhs;
  const { pointer, version } = await readPointer(repo, nhs);
  const consent = (await readConsentState(repo, nhs)).state.scr;
  if (consent === 'dissent') throw dissentError();
  // information the patient has not agreed to share does not reach the national record at all
  const additional = additionalEntryTypes(doc);
  if (consent !== 'additional' && additional.length > 0) {
    throw new FhirError(
      403,
      'SCR_CONSENT_REQUIRED',
      `The patient has not given express consent to share additional information (${additional.join(', ')}); send a core summary (allergies, adverse reactions, medications) or record the consent first`,
    );
  }
  const id = randomUUID();
  const uploaded = new Date().toISOString();
  const sequence = (pointer?.sequence ?? 0) + 1;
  const bundle = { ...doc.bundle, id, meta: { ...doc.bundle.meta, lastUpdated: uploaded } };
  const stored: ScrDocument = {
    resourceType: SCR_DOCUMENT_TYPE,
    id,
    patient: nhs,
    sequence,
    compositionIdentifier: doc.compositionIdentifier,
    authorOrg: meta.authorOrg,
    uploadedBy: meta.uploadedBy,
    uploaded,
    bundle,
  };
  const next: ScrPointer = { resourceType: SCR_POINTER_TYPE, id: nhs, current: id, sequence };
  try {
    await repo.commit({
      resources: [
        {
          type: SCR_DOCUMENT_TYPE,
          id,
          expectedVersion: 0,
          resource: stored,
          index: [
            { param: 'patient', value: nhs },
            { param: 'composition', value: doc.compositionIdentifier },
          ],
        },
        { type: SCR_POINTER_TYPE, id: nhs, expectedVersion: version, resource: next, index: [] },
      ],
      audit: [audit(stored)],
      messages: [documentUploaded(stored)],
      ...(request ? { request: request(stored) } : {}),
    });
  } catch (err) {
    if (err instanceof VersionConflictError) {
      if ((await readConsentState(repo, nhs)).state.scr === 'dissent') throw dissentError();
      throw new FhirError(
        409,
        'RESOURCE_VERSION_MISMATCH',
        'Another Summary Care Record for this patient was stored while this one was being processed; nothing was stored - submit the document again',
      );
    }
    throw err;
  }
  return stored;
}

/** Newest first: by upload time, then by version (two versions of one patient in the same millisecond). */
const newestFirst = (a: ScrDocument, b: ScrDocument) =>
  b.uploaded.localeCompare(a.uploaded) || b.sequence - a.sequence;

/** All SCR versions filed under these NHS Numbers (a survivor and the numbers merged into it), newest first. */
export async function listDocuments(
  repo: ResourceStore,
  numbers: string[],
): Promise<ScrDocument[]> {
  const ids = await repo.search({
    type: SCR_DOCUMENT_TYPE,
    criteria: [{ any: numbers.map((value) => ({ param: 'patient', op: 'eq' as const, value })) }],
    limit: MAX_VERSIONS,
  });
  const docs = (await repo.readMany(SCR_DOCUMENT_TYPE, ids)).map((s) => s.resource);
  return docs.sort(newestFirst);
}

/**
 * The patient's current SCR: each number's pointer names its current document, and of those the
 * newest is the patient's (a survivor's own upload after a merge outranks the old number's).
 */
export async function currentDocument(
  repo: ResourceStore,
  numbers: string[],
): Promise<ScrDocument | null> {
  const pointers = (await repo.readMany(SCR_POINTER_TYPE, numbers)).map((s) => s.resource);
  const ids = pointers.map((p) => p.current).filter((id): id is string => !!id);
  if (ids.length === 0) return null;
  const docs = (await repo.readMany(SCR_DOCUMENT_TYPE, ids)).map((s) => s.resource);
  return docs.sort(newestFirst)[0] ?? null;
}

export async function readDocument(repo: ResourceStore, id: string): Promise<ScrDocument | null> {
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) return null;
  return (await repo.read(SCR_DOCUMENT_TYPE, id))?.resource ?? null;
}
