/**
 * The one check before a patient acts on a referral (cancel it, book, change or cancel its
 * appointment): as in e-RS's Manage Your Referral, the patient presents the UBRN and the password
 * of their letter. The referral must be theirs (visibleReferral), a letter must have been printed,
 * the referral must not be locked, and the password must match. Each wrong password is counted in
 * the store and audited; the MAX_PASSWORD_FAILURES-th locks the referral (423) until the referrer
 * prints a new letter. A right password after wrong ones clears the count, in the caller's own
 * commit (`resetFailures`).
 */
import { auditRecord } from '../../audit/audit-record.js';
import { auditedRefusal } from '../../audit/audited-refusal.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import type { RequestContext } from '../../context.js';
import { VersionConflictError } from '../../store/errors.js';
import type { ResourceStore, ResourceWrite, StoredResource } from '../../store/resource-store.js';
import { ersError } from './ers-errors.js';
import {
  ERS_PATIENT_ACCESS,
  MAX_PASSWORD_FAILURES,
  patientAccessWrite,
  type ErsPatientAccess,
} from './patient-access-model.js';
import { passwordMatches } from './patient-password.js';
import { visibleReferral, type ReferralParty } from './referral-access.js';
import type { ReferralRequest } from './referral-model.js';

/** What a patient presents: who they are (from their NHS login token), the UBRN and the password. */
export interface PatientClaim {
  nhsNumber: string;
  ubrn: string;
  password: string;
}

export interface PatientAccessGrant {
  referral: StoredResource<ReferralRequest> & { party: ReferralParty };
  /** Writes to commit with the patient's change (the cleared failure count), possibly none. */
  resetFailures: ResourceWrite[];
}

/** Failure-count commits racing another attempt on the same UBRN are retried this often. */
const RACE_ATTEMPTS = 5;

const locked = (ubrn: string) =>
  ersError(
    423,
    'lock-error',
    'NO_ACCESS',
    `Referral ${ubrn} is locked after ${MAX_PASSWORD_FAILURES} wrong passwords; ask your GP practice for a new referral letter`,
  );

/**
 * The patient's referral, when `claim` holds: 404 REC_NOT_FOUND (unknown UBRN), 403 NO_ACCESS (not
 * the patient's referral, or a wrong password), 403 NO_ACCESS_CODE (no letter printed yet), 423
 * (locked). Every refusal is audited under `action`.
 */
export async function verifyPatientAccess(
  deps: { store: ResourceStore; audit: AuditWriter },
  ctx: RequestContext,
  claim: PatientClaim,
  action: string,
): Promise<PatientAccessGrant> {
  const referral = await visibleReferral(
    deps,
    ctx,
    { patient: claim.nhsNumber },
    claim.ubrn,
    action,
    ['patient'],
  );
  const refuse = async (reason: string, err: Error) => {
    await deps.audit.append(
      auditRecord(ctx, action, claim.nhsNumber, 'refused', { ubrn: claim.ubrn, reason }),
    );
    return auditedRefusal(err);
  };
  for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
    const access = await deps.store.read(ERS_PATIENT_ACCESS, claim.ubrn);
    if (!access || access.resource.nhsNumber !== claim.nhsNumber)
      throw await refuse(
        'no letter printed',
        ersError(
          403,
          'forbidden',
          'NO_ACCESS_CODE',
          `No password has been issued for referral ${claim.ubrn}; ask your GP practice for your referral letter`,
        ),
      );
    if (access.resource.failures >= MAX_PASSWORD_FAILURES)
      throw await refuse('locked', locked(claim.ubrn));
    if (await passwordMatches(claim.password, access.resource.password))
      return { referral, resetFailures: access.resource.failures > 0 ? [cleared(access)] : [] };
    try {
      const failures = await recordFailure(deps.store, ctx, access, action);
      throw auditedRefusal(
        failures >= MAX_PASSWORD_FAILURES
          ? locked(claim.ubrn)
          : ersError(
              403,
              'forbidden',
              'NO_ACCESS',
              `The password does not match referral ${claim.ubrn}; ${MAX_PASSWORD_FAILURES - failures} attempt(s) left before it is locked`,
            ),
      );
    } catch (err) {
      // another attempt counted first: count this one on the record as it now is
      if (!(err instanceof VersionConflictError)) throw err;
    }
  }
  throw ersError(503, 'transient', 'SERVICE_UNAVAILABLE', 'Too many attempts at once; try again');
}

/** Counts one wrong password (and locks at the limit), audited as refused in the same commit. */
async function recordFailure(
  store: ResourceStore,
  ctx: RequestContext,
  stored: StoredResource<ErsPatientAccess>,
  action: string,
): Promise<number> {
  const failures = stored.resource.failures + 1;
  const lock = failures >= MAX_PASSWORD_FAILURES;
  const next: ErsPatientAccess = {
    ...stored.resource,
    failures,
    ...(lock ? { lockedAt: new Date().toISOString() } : {}),
  };
  await store.commit({
    resources: [patientAccessWrite(next, stored.version)],
    audit: [
      auditRecord(ctx, action, stored.resource.nhsNumber, 'refused', {
        ubrn: stored.id,
        reason: lock ? 'wrong password: locked' : 'wrong password',
        failures,
      }),
    ],
  });
  return failures;
}

function cleared(stored: StoredResource<ErsPatientAccess>): ResourceWrite {
  const { lockedAt: _gone, ...rest } = stored.resource;
  return patientAccessWrite({ ...rest, failures: 0 }, stored.version);
}
