/**
 * The e-RS document store: upload a file (a020) and retrieve it (a006). A file uploaded for a
 * referral (NHSD-eRS-Referral-ID) may be uploaded only by a party of that referral; it is read only
 * by a party of a referral that holds it among its letters (supportingInfo), so an upload nobody
 * attached, or a guessed id, gives nothing away. Uploads go through writeOnce (an X-Request-ID
 * retry answers the same Location); reads and refusals are audited.
 */
import { auditRecord } from '../../audit/audit-record.js';
import { auditedRefusal } from '../../audit/audited-refusal.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore, StoredResource } from '../../store/resource-store.js';
import { writeOnce } from '../write-once.js';
import { ersError } from './ers-errors.js';
import {
  attachmentBytes,
  attachmentWrite,
  ATTACHMENT_ID,
  ERS_ATTACHMENT,
  newAttachmentId,
  sha256Hex,
  type ErsAttachment,
} from './attachment-model.js';
import type { UploadRequest } from './attachment-rules.js';
import { letterAttachmentIds } from './letter-model.js';
import { visibleReferral } from './referral-access.js';
import { patientOf, REFERRAL_REQUEST } from './referral-model.js';
import type { ErsCaller } from './referral-rules.js';

const UPLOAD = 'ers.attachment.upload';
const READ = 'ers.attachment.read';

export class AttachmentService {
  constructor(
    readonly store: ResourceStore,
    readonly audit: AuditWriter,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** a020: the file stored under a new id; its Location is Binary/{id}. */
  upload(
    ctx: RequestContext,
    caller: ErsCaller,
    request: UploadRequest,
  ): Promise<StoredResource<ErsAttachment>> {
    return writeOnce(this.store, ctx, {
      answers: ERS_ATTACHMENT,
      asBefore: ({ stored }) => stored,
      write: async ({ record }) => {
        let patient: string | null = null;
        if (request.referralId) {
          const referral = await visibleReferral(
            this,
            ctx,
            { ods: caller.ods },
            request.referralId,
            UPLOAD,
            ['referrer', 'provider'],
          );
          patient = patientOf(referral.resource);
        }
        const id = newAttachmentId();
        const attachment: ErsAttachment = {
          resourceType: 'ErsAttachment',
          id,
          contentType: request.contentType,
          fileName: request.fileName,
          size: request.data.length,
          sha256: sha256Hex(request.data),
          data: request.data.toString('base64'),
          ...(request.referralId ? { referralId: request.referralId } : {}),
          uploadedBy: { user: ctx.principal?.userId ?? '', org: caller.ods },
          uploaded: this.now().toISOString(),
        };
        const [saved] = await this.store.commit({
          resources: [attachmentWrite(attachment)],
          audit: [
            auditRecord(ctx, UPLOAD, patient, 'success', {
              attachment: id,
              ubrn: request.referralId,
              contentType: request.contentType,
              size: attachment.size,
              sha256: attachment.sha256,
              businessFunction: caller.businessFunction,
            }),
          ],
          request: record({
            status: 201,
            resourceType: ERS_ATTACHMENT,
            resourceId: id,
            version: 1,
          }),
        });
        return saved as StoredResource<ErsAttachment>;
      },
    });
  }

  /**
   * a006: the file and its bytes, for a party of the referral holding it as a letter: 404
   * REC_NOT_FOUND for an unknown id, 403 NO_ACCESS (audited) for anyone else.
   */
  async read(
    ctx: RequestContext,
    caller: ErsCaller,
    id: string,
  ): Promise<{ attachment: ErsAttachment; bytes: Buffer }> {
    const notFound = () =>
      ersError(404, 'not-found', 'REC_NOT_FOUND', `No attachment with id ${id.slice(0, 40)}`);
    if (!ATTACHMENT_ID.test(id)) throw notFound();
    const stored = await this.store.read(ERS_ATTACHMENT, id);
    if (!stored) throw notFound();
    const attachment = stored.resource;
    const referral = attachment.referralId
      ? await this.store.read(REFERRAL_REQUEST, attachment.referralId)
      : null;
    if (!referral || !letterAttachmentIds(referral.resource).includes(id)) {
      await this.audit.append(
        auditRecord(ctx, READ, referral ? patientOf(referral.resource) : null, 'refused', {
          attachment: id,
          reason: 'not attached to a referral',
        }),
      );
      throw auditedRefusal(
        ersError(
          403,
          'forbidden',
          'NO_ACCESS',
          `Attachment ${id} is not attached to a referral you may see`,
        ),
      );
    }
    await visibleReferral(this, ctx, { ods: caller.ods }, referral.id, READ, [
      'referrer',
      'provider',
    ]);
    const bytes = verifiedBytes(attachment);
    await this.audit.append(
      auditRecord(ctx, READ, patientOf(referral.resource), 'success', {
        attachment: id,
        ubrn: referral.id,
        size: attachment.size,
      }),
    );
    return { attachment, bytes };
  }

  /**
   * The bytes of file `id` for a download link already checked (a042's temporary location): the
   * party was checked when the link was made (`read`); the digest is checked again here.
   */
  async download(
    ctx: RequestContext,
    id: string,
  ): Promise<{ attachment: ErsAttachment; bytes: Buffer }> {
    const stored = ATTACHMENT_ID.test(id) ? await this.store.read(ERS_ATTACHMENT, id) : null;
    if (!stored)
      throw ersError(404, 'not-found', 'REC_NOT_FOUND', `No attachment with id ${id.slice(0, 40)}`);
    const attachment = stored.resource;
    const bytes = verifiedBytes(attachment);
    await this.audit.append(
      auditRecord(ctx, 'ers.attachment.download', null, 'success', {
        attachment: id,
        ubrn: attachment.referralId,
        size: attachment.size,
      }),
    );
    return { attachment, bytes };
  }
}

/** A stored file's bytes, with the digest taken at upload checked again: a damaged file is never served. */
export function verifiedBytes(attachment: ErsAttachment): Buffer {
  const bytes = attachmentBytes(attachment);
  if (sha256Hex(bytes) !== attachment.sha256 || bytes.length !== attachment.size)
    throw ersError(
      422,
      'processing',
      'VALIDATION_FAILED',
      `Attachment ${attachment.id} failed validation`,
    );
  return bytes;
}
