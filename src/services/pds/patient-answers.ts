/**
 * What every Patient use case shares, read or write: the NHS Number check as PDS publishes it, the
 * record-and-version answer, and the answer to a retried write. Kept in its own module so the read
 * (patient-service.ts) and write modules (patient-update.ts, patient-registration.ts,
 * patient-merge.ts) need not import one another.
 */
import type { Patient } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import { requireNhsNumber } from '../../fhir/nhs-number.js';
import type { RequestContext } from '../../context.js';
import type { EarlierAnswer } from '../write-once.js';
import type { Repository } from '../../store/repository.js';
import { patientForRead } from './patient-views.js';

export interface VersionedPatient {
  patient: Patient;
  version: number;
}

/** What a write use case works with: the store, and the writer for audit outside a commit. */
export interface PatientWriteDeps {
  repo: Repository;
  audit: AuditWriter;
}

export function checkNhsNumber(value: string): string {
  // no diagnostics, as published (karate-tests mocks/stubs/errorResponses/INVALID_RESOURCE_ID.json)
  return requireNhsNumber(value, undefined, { diagnostics: '' });
}

/**
 * A write retried with the X-Request-ID of one already processed gets the original answer, as
 * PDS asks clients to retry (so does a twin that lost the race); the same id on a different
 * request is refused (../write-once.ts).
 */
export async function answerAsBefore(
  audit: AuditWriter,
  ctx: RequestContext,
  action: string,
  earlier: EarlierAnswer<Patient>,
): Promise<VersionedPatient> {
  await audit.append(auditRecord(ctx, `${action}.replay`, earlier.stored.id, 'replayed'));
  return {
    patient: patientForRead(earlier.stored.resource),
    version: earlier.stored.version,
  };
}
