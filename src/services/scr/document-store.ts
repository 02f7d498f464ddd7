import { randomUUID } from 'node:crypto';
import { FhirError } from '../../fhir/errors.js';
import { VersionConflictError, type AuditRecord, type Repository } from '../../store/types.js';
import { SCR_DOCUMENT_TYPE, SCR_POINTER_TYPE, type ScrDocument, type ScrPointer } from './document-model.js';
import type { ValidDocument } from './document-validation.js';

/** More SCR versions than any patient accrues; listing stops here rather than scanning without end. */
const MAX_VERSIONS = 1000;

/** The patient's current-document pointer and its stored version (0: the patient has no SCR yet). */
export async function readPointer(repo: Repository, nhs: string): Promise<{ pointer: ScrPointer | null; version: number }> {
  const stored = await repo.read(SCR_POINTER_TYPE, nhs);
  return stored ? { pointer: stored.resource as ScrPointer, version: stored.version } : { pointer: null, version: 0 };
}

/**
 * Stores a validated document as the patient's new current SCR. The document (new, immutable) and
 * the pointer (version-checked against what was read) commit together with the audit entry, so two
 * uploads racing for one patient cannot both become version n+1: the second commit is refused as a
 * whole and nothing of it is stored.
 */
export async function storeNewVersion(
  repo: Repository, doc: ValidDocument, meta: { uploadedBy: string; authorOrg: string }, audit: (d: ScrDocument) => AuditRecord,
): Promise<ScrDocument> {
  const { pointer, version } = await readPointer(repo, doc.subjectNhs);
  const id = randomUUID();
  const uploaded = new Date().toISOString();
  const sequence = (pointer?.sequence ?? 0) + 1;
  const bundle = { ...doc.bundle, id, meta: { ...doc.bundle.meta, lastUpdated: uploaded } };
  const stored: ScrDocument = {
    resourceType: SCR_DOCUMENT_TYPE, id, patient: doc.subjectNhs, sequence, compositionIdentifier: doc.compositionIdentifier,
    authorOrg: meta.authorOrg, uploadedBy: meta.uploadedBy, uploaded, bundle,
  };
  const next: ScrPointer = { resourceType: SCR_POINTER_TYPE, id: doc.subjectNhs, current: id, sequence };
  try {
    await repo.commit({
      resources: [
        { type: SCR_DOCUMENT_TYPE, id, expectedVersion: 0, resource: stored, index: [{ param: 'patient', value: doc.subjectNhs }, { param: 'composition', value: doc.compositionIdentifier }] },
        { type: SCR_POINTER_TYPE, id: doc.subjectNhs, expectedVersion: version, resource: next, index: [] },
      ],
      audit: [audit(stored)],
    });
  } catch (err) {
    if (err instanceof VersionConflictError) {
      throw new FhirError(409, 'RESOURCE_VERSION_MISMATCH', 'Another Summary Care Record for this patient was stored while this one was being processed; nothing was stored - submit the document again');
    }
    throw err;
  }
  return stored;
}

/** All the patient's SCR versions, newest first. */
export async function listDocuments(repo: Repository, nhs: string): Promise<ScrDocument[]> {
  const ids = await repo.search({ type: SCR_DOCUMENT_TYPE, criteria: [{ any: [{ param: 'patient', op: 'eq', value: nhs }] }], limit: MAX_VERSIONS });
  const docs = (await repo.readMany(SCR_DOCUMENT_TYPE, ids)).map((s) => s.resource as ScrDocument);
  return docs.sort((a, b) => b.sequence - a.sequence);
}

export async function readDocument(repo: Repository, id: string): Promise<ScrDocument | null> {
  if (!/^[A-Za-z0-9\-.]{1,64}$/.test(id)) return null;
  return ((await repo.read(SCR_DOCUMENT_TYPE, id))?.resource as ScrDocument | undefined) ?? null;
}
