/**
 * What every e-RS STU3 route table shares: the published request headers it documents, the
 * caller it reads from them (parseErsCaller: business function, organisation, on-behalf-of), and
 * how a referral is answered (its version as ETag, as e-RS answers).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { etagFor } from '../../fhir/etag.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { Activity } from '../../security/policy.js';
import type { StoredResource } from '../../store/resource-store.js';
import type { ReferralRequest } from './referral-model.js';
import { parseErsCaller, type ErsCaller } from './referral-rules.js';
import { referralView } from './referral-views.js';

/** The headers every e-RS call carries (BusinessFunction.yaml, OdsCode.yaml). */
export const ERS_HEADERS = {
  'nhsd-ers-business-function': "the caller's e-RS Business Function (e.g. REFERRING_CLINICIAN)",
  'nhsd-end-user-organisation-ods': "the ODS code of the caller's organisation",
};
/** The On-Behalf-Of header of the operations that publish it (BusinessFunctionOBO.yaml). */
export const OBO_HEADER = {
  'nhsd-ers-on-behalf-of-user-id':
    'the SDS user ID a SERVICE_PROVIDER_CLINICIAN_ADMIN acts for (required with that function only)',
};
export const IF_MATCH_HEADER = { 'if-match': 'W/"<version>" last read' };

/** The caller as the published headers name it, for a route of `activity`. */
export const ersCaller = (
  req: FastifyRequest,
  activity: Activity,
  oboAllowed: boolean,
): ErsCaller => parseErsCaller(req.headers, activity, req.ctx.principal, oboAllowed);

/** A referral as e-RS answers it: its version as a weak ETag. */
export function sendReferral(
  reply: FastifyReply,
  stored: StoredResource<ReferralRequest>,
  status = 200,
): FastifyReply {
  return reply
    .code(status)
    .type(FHIR_JSON)
    .header('etag', etagFor(stored.version))
    .send(referralView(stored));
}
