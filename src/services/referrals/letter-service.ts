/**
 * A referral's letter: $ers.maintainReferralLetter (a012) sets the whole set of letter files
 * (uploaded through a020 for this referral), as a change of the referral through
 * commitReferralChange; $ers.generateCRI (a007) prints the clinical information summary of the
 * referral and its letter as a PDF. Only the referrer maintains the letter; referrer and providers
 * read the summary. Every change and read is audited.
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore, StoredResource } from '../../store/resource-store.js';
import { currentPatient } from '../pds/index.js';
import { ersError } from './ers-errors.js';
import { ERS_REFERRAL_LETTER } from './event-topics.js';
import { ERS_ATTACHMENT } from './attachment-model.js';
import { clinicalSummary } from './letter-documents.js';
import { letterAttachmentIds, letterDocument, withLetter } from './letter-model.js';
import { fileStamp, renderPdf } from './letter-pdf.js';
import { parseMaintainReferralLetter } from './letter-rules.js';
import { visibleReferral } from './referral-access.js';
import { patientOf, stateOf, type ReferralRequest } from './referral-model.js';
import type { ErsCaller } from './referral-rules.js';
import { changeReferral } from './referral-writes.js';

export const LETTER_ACTION = 'ers.referral.letter';

/** States in which a referral takes no more letters or letters of its own (its end). */
const FINAL_STATES = ['CANCELLED_REFERRAL', 'REJECTED'];

/** 422 INVALID_REQUEST_STATE for a referral that has ended. */
export function requireLiveReferral(referral: ReferralRequest, operation: string): void {
  const state = stateOf(referral);
  if (FINAL_STATES.includes(state))
    throw ersError(
      422,
      'business-rule',
      'INVALID_REQUEST_STATE',
      `Referral is '${state}'; ${operation} is not allowed once a referral is cancelled or rejected`,
    );
}

export interface PdfAnswer {
  pdf: Buffer;
  fileName: string;
}

export class LetterService {
  constructor(
    readonly store: ResourceStore,
    readonly audit: AuditWriter,
    readonly now: () => Date = () => new Date(),
  ) {}

  /** a012: the referral with exactly the files named as its letter (at the version the caller read). */
  maintain(
    ctx: RequestContext,
    caller: ErsCaller,
    ubrn: string,
    ifMatch: number,
    body: unknown,
  ): Promise<StoredResource<ReferralRequest>> {
    return changeReferral(this, ctx, {
      ubrn,
      viewer: { ods: caller.ods },
      parties: ['referrer'],
      action: LETTER_ACTION,
      ifMatch,
      parse: () => parseMaintainReferralLetter(body),
      // the letter changes, not the state: refused only once the referral has ended
      check: (stored) => requireLiveReferral(stored.resource, '$ers.maintainReferralLetter'),
      plan: async (stored, files) => {
        const ids = files.map((f) => f.attachmentId);
        const found = new Map(
          (await this.store.readMany(ERS_ATTACHMENT, ids)).map((a) => [a.id, a.resource]),
        );
        const names = new Set<string>();
        const time = this.now().toISOString();
        const documents = files.map((file, i) => {
          const attachment = found.get(file.attachmentId);
          if (!attachment)
            throw ersError(
              422,
              'not-found',
              'REFERENCE_NOT_FOUND',
              `'referralLetterFile[${i}]' names Binary/${file.attachmentId}, which has not been uploaded`,
            );
          if (attachment.referralId !== ubrn)
            throw ersError(
              422,
              'value',
              'INAPPROPRIATE_VALUE',
              `'referralLetterFile[${i}]' Binary/${file.attachmentId} was not uploaded with NHSD-eRS-Referral-ID ${ubrn}`,
            );
          if (names.has(attachment.fileName.toLowerCase()) || ids.indexOf(file.attachmentId) !== i)
            throw ersError(
              422,
              'value',
              'DUPLICATE_FILENAME',
              `'referralLetterFile[${i}]' file '${attachment.fileName}' is attached more than once`,
            );
          names.add(attachment.fileName.toLowerCase());
          return letterDocument(file, attachment, attachment.uploadedBy, time);
        });
        const before = letterAttachmentIds(stored.resource);
        const described = (id: string) =>
          (stored.resource.contained ?? []).find((c) => c.id === `DocumentReference-${id}`)
            ?.description;
        if (
          before.length === ids.length &&
          files.every(
            (f, i) => before[i] === f.attachmentId && described(f.attachmentId) === f.description,
          )
        )
          throw ersError(
            422,
            'business-rule',
            'NO_CHANGES_DETECTED',
            'The referral already has exactly these letter files',
          );
        return {
          next: withLetter(stored.resource, documents, time),
          detail: { ubrn, attachments: ids, removed: before.filter((id) => !ids.includes(id)) },
          topic: ERS_REFERRAL_LETTER,
          time,
        };
      },
    });
  }

  /** a007: the clinical information summary (PDF) for the referrer or a provider of the referral. */
  async clinicalInformation(
    ctx: RequestContext,
    caller: ErsCaller,
    ubrn: string,
  ): Promise<PdfAnswer> {
    const stored = await visibleReferral(
      this,
      ctx,
      { ods: caller.ods },
      ubrn,
      'ers.referral.read',
      ['referrer', 'provider'],
    );
    const nhs = patientOf(stored.resource);
    const patient = await currentPatient(this.store, nhs);
    const now = this.now();
    const pdf = await renderPdf(clinicalSummary(stored, patient?.resource, now));
    await this.audit.append(
      auditRecord(ctx, 'ers.referral.read', nhs, 'success', {
        ubrn,
        version: stored.version,
        document: 'clinical-information-summary',
      }),
    );
    return { pdf, fileName: `${ubrn}_Clinical_Information_Summary_${fileStamp(now)}.pdf` };
  }
}
