/**
 * Who may see and change a referral: the organisation that made it, the providers it was sent to
 * (booked into, deferred to, sent for triage to: `providersOf`), and the patient it is for. A look
 * by anyone else is audited as refused and answered 403 NO_ACCESS; an unknown UBRN is 404
 * REC_NOT_FOUND. Every use case reads a referral through `visibleReferral`, so the rule is in one
 * place.
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import { noteReadPatient, type RequestContext } from '../../context.js';
import type { ResourceStore, StoredResource } from '../../store/resource-store.js';
import { ersError } from './ers-errors.js';
import {
  patientOf,
  providersOf,
  REFERRAL_REQUEST,
  referrerOf,
  type ReferralRequest,
} from './referral-model.js';

/** The side of the referral a caller stands on. */
export type ReferralParty = 'referrer' | 'provider' | 'patient';

/** Who is asking: an organisation (staff, by the ODS header) or a patient (by NHS Number). */
export type ReferralViewer = { ods: string } | { patient: string };

/** The side `viewer` stands on for this referral, or undefined when it has none. */
export function partyOf(
  referral: ReferralRequest,
  viewer: ReferralViewer,
): ReferralParty | undefined {
  if ('patient' in viewer) return patientOf(referral) === viewer.patient ? 'patient' : undefined;
  if (referrerOf(referral) === viewer.ods) return 'referrer';
  if (providersOf(referral).includes(viewer.ods)) return 'provider';
  return undefined;
}

/**
 * The referral, when it exists and `viewer` is one of `parties` of it: 404 REC_NOT_FOUND for an
 * unknown UBRN, 403 NO_ACCESS (audited as refused under `action`) otherwise.
 */
export async function visibleReferral(
  deps: { store: ResourceStore; audit: AuditWriter },
  ctx: RequestContext,
  viewer: ReferralViewer,
  ubrn: string,
  action: string,
  parties: readonly ReferralParty[] = ['referrer', 'provider', 'patient'],
): Promise<StoredResource<ReferralRequest> & { party: ReferralParty }> {
  const stored = await deps.store.read(REFERRAL_REQUEST, ubrn);
  if (!stored) throw ersError(404, 'not-found', 'REC_NOT_FOUND', `No referral with UBRN ${ubrn}`);
  const party = partyOf(stored.resource, viewer);
  if (!party || !parties.includes(party)) {
    await deps.audit.append(
      auditRecord(ctx, action, patientOf(stored.resource), 'refused', {
        ubrn,
        reason: party ? `the ${party} may not do this` : 'not a party to the referral',
      }),
    );
    const who = 'ods' in viewer ? `Organisation ${viewer.ods}` : 'The patient';
    throw ersError(403, 'forbidden', 'NO_ACCESS', `${who} may not access referral ${ubrn}`);
  }
  // whatever the answer shows of it is released against its patient (location-release-hook.ts)
  noteReadPatient(ctx, patientOf(stored.resource));
  return { ...stored, party };
}
