/**
 * $ers.generatePatientLetter (a019): the referrer prints the patient's letter (PDF, as published)
 * with the referral's UBRN and a password drawn now. Only the password's salted hash is kept
 * (ErsPatientAccess, under the UBRN); printing a new letter replaces it, so the old password stops
 * working, and lifts a lock. The password exists only in the answer: an X-Request-ID retry cannot
 * be answered with the same letter, so it is refused (409) and the referrer prints a new one.
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { currentPatient } from '../pds/index.js';
import { writeOnce } from '../write-once.js';
import { ersError } from './ers-errors.js';
import { patientLetter } from './letter-documents.js';
import { fileStamp, renderPdf } from './letter-pdf.js';
import { LETTER_ACTION, requireLiveReferral, type PdfAnswer } from './letter-service.js';
import {
  ERS_PATIENT_ACCESS,
  patientAccessWrite,
  type ErsPatientAccess,
} from './patient-access-model.js';
import { drawPassword, hashPassword } from './patient-password.js';
import { visibleReferral } from './referral-access.js';
import { patientOf } from './referral-model.js';
import type { ErsCaller } from './referral-rules.js';

export class PatientLetterService {
  constructor(
    readonly store: ResourceStore,
    readonly audit: AuditWriter,
    private readonly now: () => Date = () => new Date(),
  ) {}

  generate(ctx: RequestContext, caller: ErsCaller, ubrn: string): Promise<PdfAnswer> {
    return writeOnce(this.store, ctx, {
      answers: ERS_PATIENT_ACCESS,
      asBefore: () => {
        throw ersError(
          409,
          'duplicate',
          'INVALID_VALUE',
          `The patient letter of X-Request-ID ${ctx.requestId} was printed already and its password is shown only once; print a new letter with a new X-Request-ID (its password replaces the earlier one)`,
        );
      },
      write: async ({ record }) => {
        const stored = await visibleReferral(this, ctx, { ods: caller.ods }, ubrn, LETTER_ACTION, [
          'referrer',
        ]);
        requireLiveReferral(stored.resource, '$ers.generatePatientLetter');
        const nhs = patientOf(stored.resource);
        const patient = await currentPatient(this.store, nhs);
        const now = this.now();
        const password = drawPassword();
        const previous = await this.store.read(ERS_PATIENT_ACCESS, ubrn);
        const access: ErsPatientAccess = {
          resourceType: 'ErsPatientAccess',
          id: ubrn,
          nhsNumber: nhs,
          password: await hashPassword(password),
          issued: now.toISOString(),
          issuedBy: { user: ctx.principal?.userId ?? '', org: caller.ods },
          failures: 0,
        };
        const pdf = await renderPdf(patientLetter(stored, patient?.resource, password, now));
        const version = (previous?.version ?? 0) + 1;
        await this.store.commit({
          resources: [patientAccessWrite(access, previous?.version ?? 0)],
          audit: [
            auditRecord(ctx, LETTER_ACTION, nhs, 'success', {
              ubrn,
              document: 'patient-letter',
              replacedPassword: previous !== null,
              businessFunction: caller.businessFunction,
            }),
          ],
          request: record({
            status: 200,
            resourceType: ERS_PATIENT_ACCESS,
            resourceId: ubrn,
            version,
          }),
        });
        return { pdf, fileName: `${ubrn}_Patient_Letter_${fileStamp(now)}.pdf` };
      },
    });
  }
}
