/**
 * The files an A&G message names by reference (`Binary/<id>`), resolved against the e-RS document
 * store (a020's ErsAttachment): each must have been uploaded (REFERENCE_NOT_FOUND) by the caller's
 * organisation, and a file uploaded for a UBRN (NHSD-eRS-Referral-ID) may go with that request
 * only (INAPPROPRIATE_VALUE); two files of one name in one message are DUPLICATE_FILENAME. What the
 * store knows of each (type, size, name, upload date) is what e-RS answers in the attachment.
 */
import type { ResourceStore } from '../../store/resource-store.js';
import { ERS_ATTACHMENT } from './attachment-model.js';
import type { AttachmentRef } from './advice-parameters.js';
import { ersError } from './ers-errors.js';

/** An attachment with what the document store holds of its file. */
export interface ResolvedAttachment extends AttachmentRef {
  file: { contentType: string; size: number; title: string; creation: string; by: string };
}

export async function resolveAttachments(
  store: ResourceStore,
  refs: AttachmentRef[],
  by: { ods: string; ubrn?: string },
): Promise<ResolvedAttachment[]> {
  if (refs.length === 0) return [];
  const ids = refs.map((r) => r.url.slice('Binary/'.length));
  const files = new Map((await store.readMany(ERS_ATTACHMENT, ids)).map((s) => [s.id, s.resource]));
  const names = new Set<string>();
  return refs.map((ref, i) => {
    const file = files.get(ids[i]);
    if (!file)
      throw ersError(
        422,
        'not-found',
        'REFERENCE_NOT_FOUND',
        `${ref.url} has not been uploaded to the document store (A020)`,
      );
    if (file.uploadedBy.org !== by.ods)
      throw ersError(
        422,
        'business-rule',
        'INAPPROPRIATE_VALUE',
        `${ref.url} was uploaded by another organisation`,
      );
    if (file.referralId && file.referralId !== by.ubrn)
      throw ersError(
        422,
        'business-rule',
        'INAPPROPRIATE_VALUE',
        `${ref.url} was uploaded for UBRN ${file.referralId}`,
      );
    if (names.has(file.fileName))
      throw ersError(
        422,
        'business-rule',
        'DUPLICATE_FILENAME',
        `Two files named '${file.fileName}' are attached`,
      );
    names.add(file.fileName);
    return {
      ...ref,
      file: {
        contentType: file.contentType,
        size: file.size,
        title: file.fileName,
        creation: file.uploaded.slice(0, 10),
        by: file.uploadedBy.user,
      },
    };
  });
}
