/**
 * A file uploaded to the e-RS document store (a020) and what e-RS accepts: the published file types
 * and extensions, and the 5MB limit (NHSDigital/e-referrals-service-api
 * specification/components/stu3/schemas/endpoints/a020-upload-file-to-document-store.yaml). The
 * bytes are kept in the store itself, base64 in a document of their own with their SHA-256, as
 * GP2GP keeps attachment chunks, so every node of a cluster can serve a download.
 */
import { createHash, randomUUID } from 'node:crypto';
import { resourceType, type ResourceWrite } from '../../store/resource-store.js';

/** OpenSpine's own stored type: an uploaded file (a FHIR Binary plus what e-RS knows of it). */
export interface ErsAttachment {
  resourceType: 'ErsAttachment';
  id: string;
  contentType: string;
  /** The NHSD-eRS-File-Name it was uploaded under. */
  fileName: string;
  size: number;
  /** hex SHA-256 of the bytes, checked again on every read. */
  sha256: string;
  /** The bytes, base64. */
  data: string;
  /** The UBRN named in NHSD-eRS-Referral-ID: only that referral may take the file as a letter (a012). */
  referralId?: string;
  uploadedBy: { user: string; org: string };
  uploaded: string;
  [field: string]: unknown;
}

export const ERS_ATTACHMENT = resourceType<ErsAttachment>('ErsAttachment');

/** "Currently, the maximum file size supported by e-RS is 5MB" (a020; 5242880 bytes in a006). */
export const MAX_FILE_BYTES = 5_242_880;

/** The published file types (a020's table) and the extensions each may carry. */
export const FILE_TYPES: Readonly<Record<string, readonly string[]>> = {
  'text/plain': ['txt'],
  'application/pdf': ['pdf'],
  'text/xml': ['xml'],
  'text/rtf': ['rtf', 'rtx'],
  'audio/basic': ['au'],
  'audio/mpeg': ['mp3'],
  'image/png': ['png'],
  'image/gif': ['gif'],
  'image/jpeg': ['jpg', 'jpe', 'jpeg'],
  'image/tiff': ['tif', 'tiff'],
  'video/mpeg': ['mpg', 'mpeg', 'mpe'],
  'application/msword': ['doc', 'docx'],
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': ['doc', 'docx'],
  'application/dicom': ['dcm'],
};

export const sha256Hex = (data: Uint8Array): string =>
  createHash('sha256').update(data).digest('hex');

/** An attachment's id: a UUID, as the published Binary ids are (Binary/19eb7224-dff3-...). */
export const newAttachmentId = (): string => randomUUID();
export const ATTACHMENT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The relative URL e-RS names a file by (the Location of a020, DocumentReference attachment.url). */
export const binaryUrl = (id: string): string => `Binary/${id}`;

export function attachmentWrite(attachment: ErsAttachment): ResourceWrite {
  return {
    type: ERS_ATTACHMENT,
    id: attachment.id,
    expectedVersion: 0,
    resource: attachment,
    index: [
      { param: 'org', value: attachment.uploadedBy.org },
      ...(attachment.referralId ? [{ param: 'referral', value: attachment.referralId }] : []),
    ],
  };
}

/** The bytes of a stored attachment. */
export const attachmentBytes = (attachment: ErsAttachment): Buffer =>
  Buffer.from(attachment.data, 'base64');
