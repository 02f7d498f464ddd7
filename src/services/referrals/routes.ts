import type { FastifyInstance } from 'fastify';
import { etagFor } from '../../fhir/etag.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import { described, pathParams } from '../route-schemas.js';
import { ERS_HEADERS, OBO_HEADER, ersCaller, sendReferral } from './ers-route-kit.js';
import type { ServiceDeps } from '../service-deps.js';
import { useErsErrors } from './ers-errors.js';
import { parseErsIfMatch, parseUbrn, parseVersion } from './referral-rules.js';
import type { ReferralService } from './referral-service.js';
import { cancelledView } from './referral-views.js';

/** The e-Referral Service's STU3 API (published servers .../referrals/FHIR, paths /STU3/...). */
export const REFERRALS_BASE = '/referrals/FHIR/STU3';

interface UbrnParams {
  ubrn: string;
}
interface VersionParams extends UbrnParams {
  version: string;
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

  return async function plugin(app: FastifyInstance): Promise<void> {
    useErsErrors(app);
    const create = { fhirApi: true, activity: 'ers.referral.create' } as const;
    const read = { fhirApi: true, activity: 'ers.referral.read' } as const;
    const cancel = { fhirApi: true, activity: 'ers.referral.cancel' } as const;

    app.post(
      '/ReferralRequest/$ers.createReferral',
      { schema: { headers: described(ERS_HEADERS) }, config: create },
      async (req, reply) => {
        const created = await service.create(
          req.ctx,
          ersCaller(req, create.activity, false),
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
        schema: {
          params: pathParams('ubrn'),
          headers: described({ ...ERS_HEADERS, ...OBO_HEADER }),
        },
        config: read,
      },
      async (req, reply) => {
        const who = ersCaller(req, read.activity, true);
        return sendReferral(reply, await service.read(req.ctx, who, parseUbrn(req.params.ubrn)));
      },
    );

    app.get<{ Params: VersionParams }>(
      '/ReferralRequest/:ubrn/_history/:version',
      {
        schema: {
          params: pathParams('ubrn', 'version'),
          headers: described({ ...ERS_HEADERS, ...OBO_HEADER }),
        },
        config: read,
      },
      async (req, reply) => {
        const who = ersCaller(req, read.activity, true);
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
          headers: described({
            ...ERS_HEADERS,
            'if-match': 'W/"<version>" of the referral last read',
          }),
        },
        config: cancel,
      },
      async (req, reply) => {
        const who = ersCaller(req, cancel.activity, false);
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
