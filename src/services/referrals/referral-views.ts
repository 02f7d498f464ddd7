import type { StoredResource } from '../../store/resource-store.js';
import { ERS_PROFILE, REFERRER_ORG_URL, type ReferralRequest } from './referral-model.js';

/** A stored referral as callers see it: its version and profile in meta, as eRS answers. */
export function referralView(stored: StoredResource<ReferralRequest>): ReferralRequest {
  const r = stored.resource;
  return {
    ...r,
    extension: r.extension.filter((e) => e.url !== REFERRER_ORG_URL),
    meta: { ...r.meta, versionId: String(stored.version), profile: [ERS_PROFILE] },
  };
}

/** $ers.cancelReferral's answer: eRS-CancelReferral-Response-Parameters with the updated referral. */
export function cancelledView(stored: StoredResource<ReferralRequest>) {
  return {
    resourceType: 'Parameters',
    meta: {
      profile: [
        'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-CancelReferral-Response-Parameters-1',
      ],
    },
    parameter: [{ name: 'updatedReferralRequest', resource: referralView(stored) }],
  };
}
