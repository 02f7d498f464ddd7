import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { etagFor } from '../../fhir/etag.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { Activity } from '../../security/policy.js';
import type { StoredResource } from '../../store/resource-store.js';
import { described, pathParams } from '../route-schemas.js';
import type { ServiceDeps } from '../service-deps.js';
import { useErsErrors } from './ers-errors.js';
import type { ReferralRequest } from './referral-model.js';
import { parseErsCaller, parseErsIfMatch, parseUbrn, parseVersion } from './referral-rules.js';
import type { ReferralService } from './referral-service.js';
import { cancelledView, referralView } from './referral-views.js';

/** The e-Referral Service's STU3 API (published servers .../referrals/FHIR, paths /STU3/...). */
export const REFERRALS_BASE = '/referrals/FHIR/STU3';

interface UbrnParams {
  ubrn: string;
}
interface VersionParams extends UbrnParams {
  version: string;
}

const HEADERS = {
  'nhsd-ers-business-function': "the caller's e-RS Business Function (e.g. REFERRING_CLINICIAN)",
  'nhsd-end-user-organisation-ods': "the ODS code of the caller's organisation",
};
const OBO = {
  'nhsd-ers-on-behalf-of-user-id':
    'the SDS user ID a SERVICE_PROVIDER_CLINICIAN_ADMIN acts for (required with that function only)',
};

function sendReferral(reply: FastifyReply, stored: StoredResource<ReferralRequest>, status = 200) {
  return reply
    .code(status)
    .type(FHIR_JSON)
    .header('etag', etagFor(stored.version))
    .send(referralView(stored));
}

/**
 * The route table: $ers.createReferral (a011), ReferralRequest/{ubrn} (a005) and its
 * _history/{version} (a005-versioned), $ers.cancelReferral (a036). Each route reads the published
 * headers (parseErsCaller) and makes one call into the ReferralService. Refusals of this service are
 * answered in eRS's STU3 OperationOutcome (ers-errors.ts).
 */
export function referralRoutes(
  { publicUrl }: Pick<ServiceDeps, 'publicUrl'>,
  service: ReferralService,
) {
  const baseUrl = publicUrl + REFERRALS_BASE;
  const caller = (req: FastifyRequest, activity: Activity, oboAllowed: boolean) =>
    parseErsCaller(req.headers, activity, req.ctx.principal, oboAllowed);

  return async function plugin(app: FastifyInstance): Promise<void> {
    useErsErrors(app);
    const create = { fhirApi: true, activity: 'ers.referral.create' } as const;
    const read = { fhirApi: true, activity: 'ers.referral.read' } as const;
    const cancel = { fhirApi: true, activity: 'ers.referral.cancel' } as const;

    app.post(
      '/ReferralRequest/$ers.createReferral',
      { schema: { headers: described(HEADERS) }, config: create },
      async (req, reply) => {
        const created = await service.create(
          req.ctx,
          caller(req, create.activity, false),
          req.body,
        );
        return sendReferral(
          reply.header(
            'location',
            `${baseUrl}/ReferralRequest/${created.id}/_history/${created.version}`,
          ),
          created,
          201,
        );
      },
    );

    app.get<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn',
      {
        schema: { params: pathParams('ubrn'), headers: described({ ...HEADERS, ...OBO }) },
        config: read,
      },
      async (req, reply) => {
        const who = caller(req, read.activity, true);
        return sendReferral(reply, await service.read(req.ctx, who, parseUbrn(req.params.ubrn)));
      },
    );

    app.get<{ Params: VersionParams }>(
      '/ReferralRequest/:ubrn/_history/:version',
      {
        schema: {
          params: pathParams('ubrn', 'version'),
          headers: described({ ...HEADERS, ...OBO }),
        },
        config: read,
      },
      async (req, reply) => {
        const who = caller(req, read.activity, true);
        const ubrn = parseUbrn(req.params.ubrn);
        const version = parseVersion(req.params.version);
        return sendReferral(reply, await service.readVersion(req.ctx, who, ubrn, version));
      },
    );

    app.post<{ Params: UbrnParams }>(
      '/ReferralRequest/:ubrn/$ers.cancelReferral',
      {
        schema: {
          params: pathParams('ubrn'),
          headers: described({ ...HEADERS, 'if-match': 'W/"<version>" of the referral last read' }),
        },
        config: cancel,
      },
      async (req, reply) => {
        const who = caller(req, cancel.activity, false);
        const ubrn = parseUbrn(req.params.ubrn);
        const version = parseErsIfMatch(req.headers['if-match']);
        const saved = await service.cancel(req.ctx, who, ubrn, version, req.body);
        return reply
          .code(200)
          .type(FHIR_JSON)
          .header('etag', etagFor(saved.version))
          .send(cancelledView(saved));
      },
    );
  };
}
