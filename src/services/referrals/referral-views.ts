import type { StoredResource } from '../../store/resource-store.js';
import {
  ERS_PROFILE,
  PROVIDER_ORG_URL,
  REFERRAL_STATE_URL,
  REFERRER_ORG_URL,
  stateOf,
  type Extension,
  type ReferralRequest,
} from './referral-model.js';
import { publishedState } from './referral-transitions.js';

const OWN_EXTENSIONS = new Set([REFERRER_ORG_URL, PROVIDER_ORG_URL]);

/** The state extension as e-RS answers it (an ACCEPTED referral is shown BOOKED). */
function publishedStateExtension(e: Extension, referral: ReferralRequest): Extension {
  const state = stateOf(referral);
  if (e.url !== REFERRAL_STATE_URL || publishedState(state) === state) return e;
  return {
    ...e,
    extension: e.extension?.map((part) =>
      part.url === 'state'
        ? {
            ...part,
            valueCoding: { ...(part.valueCoding as object), code: 'BOOKED', display: 'Booked' },
          }
        : part,
    ),
  };
}

/** A stored referral as callers see it: its version and profile in meta, as eRS answers. */
export function referralView(stored: StoredResource<ReferralRequest>): ReferralRequest {
  const r = stored.resource;
  return {
    ...r,
    extension: r.extension
      .filter((e) => !OWN_EXTENSIONS.has(e.url))
      .map((e) => publishedStateExtension(e, r)),
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
