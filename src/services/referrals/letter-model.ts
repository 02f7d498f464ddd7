/**
 * A referral's letter as e-RS publishes it: each referral letter file is a DocumentReference of type
 * REFERRER contained in the ReferralRequest and named in supportingInfo, its attachment carrying
 * who attached it, its availability, type, url (Binary/{id}), size and title; the referral carries
 * when clinical information was first submitted and last updated (sandbox/src/mocks/stu3/
 * maintainReferralLetter/responses/ReferralRequestWithMultipleDocumentReferences.json).
 */
import { ERS_EXTENSION, ODS_SYSTEM_STU3, type ReferralRequest } from './referral-model.js';
import { binaryUrl, type ErsAttachment } from './attachment-model.js';

export const DOCUMENT_REFERENCE_PROFILE =
  'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-DocumentReference-1';
export const MAINTAIN_LETTER_PROFILE =
  'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-MaintainReferralLetter-Parameters-1';
export const ATTACHMENT_TYPE_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-AttachmentType-1';
export const AVAILABILITY_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-AvailabilityStatus-1';
export const SDS_USER_SYSTEM = 'http://fhir.nhs.net/Id/sds-user-id';
export const CLINICAL_INFO_FIRST_URL = `${ERS_EXTENSION}Extension-eRS-ClinicalInfoFirstSubmitted-1`;
export const CLINICAL_INFO_LAST_URL = `${ERS_EXTENSION}Extension-eRS-ClinicalInfoLastUpdated-1`;
const ATTACHED_BY_URL = `${ERS_EXTENSION}Extension-eRS-AttachedBy-1`;
const AVAILABILITY_URL = `${ERS_EXTENSION}Extension-eRS-AvailabilityStatus-1`;
const ATTACHED_BY_ORG_URL = `${ERS_EXTENSION}Extension-eRS-AttachedByOrganisation-1`;

/** One referral letter file as a012 takes it: the uploaded file and its description. */
export interface LetterFile {
  attachmentId: string;
  description?: string;
}

export interface ContainedDocumentReference {
  resourceType: 'DocumentReference';
  id: string;
  type: { coding: { system: string; code: string; display?: string }[] };
  description?: string;
  content: { attachment: Record<string, any> }[];
  [field: string]: unknown;
}

const isReferrerLetter = (c: Record<string, unknown>): c is ContainedDocumentReference =>
  c.resourceType === 'DocumentReference' &&
  (c as ContainedDocumentReference).type?.coding?.some?.(
    (t) => t.system === ATTACHMENT_TYPE_SYSTEM && t.code === 'REFERRER',
  ) === true;

/** The referral's letter files (REFERRER DocumentReferences), in order. */
export function letterDocuments(referral: ReferralRequest): ContainedDocumentReference[] {
  return (referral.contained ?? []).filter(isReferrerLetter);
}

/** The ids of the uploaded files the referral holds as its letter. */
export function letterAttachmentIds(referral: ReferralRequest): string[] {
  return letterDocuments(referral).flatMap((d) =>
    d.content.map((c) => String(c.attachment?.url ?? '').replace(/^Binary\//, '')),
  );
}

/** The contained DocumentReference e-RS answers for one letter file. */
export function letterDocument(
  file: LetterFile,
  attachment: ErsAttachment,
  attachedBy: { user: string; org: string },
  indexed: string,
): ContainedDocumentReference {
  return {
    resourceType: 'DocumentReference',
    id: `DocumentReference-${attachment.id}`,
    meta: { profile: [DOCUMENT_REFERENCE_PROFILE] },
    type: { coding: [{ system: ATTACHMENT_TYPE_SYSTEM, code: 'REFERRER', display: 'Referrer' }] },
    status: 'current',
    indexed,
    ...(file.description ? { description: file.description } : {}),
    content: [
      {
        attachment: {
          id: attachment.id,
          extension: [
            {
              url: ATTACHED_BY_URL,
              valueReference: { identifier: { system: SDS_USER_SYSTEM, value: attachedBy.user } },
            },
            {
              url: AVAILABILITY_URL,
              valueCoding: { system: AVAILABILITY_SYSTEM, code: 'AVAILABLE' },
            },
            {
              url: ATTACHED_BY_ORG_URL,
              valueReference: { identifier: { system: ODS_SYSTEM_STU3, value: attachedBy.org } },
            },
          ],
          contentType: attachment.contentType,
          url: binaryUrl(attachment.id),
          size: attachment.size,
          title: attachment.fileName,
          creation: attachment.uploaded.slice(0, 10),
        },
      },
    ],
  };
}

/**
 * The referral with `documents` as its whole letter: earlier REFERRER DocumentReferences and their
 * supportingInfo entries replaced, anything else contained or referenced (the shortlist, a
 * provider's triage response) kept; ClinicalInfoFirstSubmitted set once, ClinicalInfoLastUpdated
 * moved to `time`.
 */
export function withLetter(
  referral: ReferralRequest,
  documents: ContainedDocumentReference[],
  time: string,
): ReferralRequest {
  const old = new Set(letterDocuments(referral).map((d) => `#${d.id}`));
  const first = referral.extension.find((e) => e.url === CLINICAL_INFO_FIRST_URL);
  return {
    ...referral,
    extension: [
      first ?? { url: CLINICAL_INFO_FIRST_URL, valueDateTime: time },
      { url: CLINICAL_INFO_LAST_URL, valueDateTime: time },
      ...referral.extension.filter(
        (e) => e.url !== CLINICAL_INFO_FIRST_URL && e.url !== CLINICAL_INFO_LAST_URL,
      ),
    ],
    contained: [...(referral.contained ?? []).filter((c) => !isReferrerLetter(c)), ...documents],
    supportingInfo: [
      ...referral.supportingInfo.filter(
        (s) => !old.has(String((s as { reference?: unknown })?.reference)),
      ),
      ...documents.map((d) => ({ reference: `#${d.id}` })),
    ],
  };
}
