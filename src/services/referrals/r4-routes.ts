import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { etagFor } from '../../fhir/etag.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import { described, pathParams, queryParams } from '../route-schemas.js';
import type { ServiceDeps } from '../service-deps.js';
import {
  businessFunctionBundle,
  callerBusinessFunctions,
  onBehalfOfUsers,
  practitionerBundle,
} from './r4-business-functions.js';
import { publishedCaller, REFERRERS } from './r4-callers.js';
import { badRequest, useR4Errors } from './r4-errors.js';
import { parseServiceSearch, R4ServiceReads, SERVICE_SEARCH_PARAMS } from './r4-service-reads.js';
import { serviceSearchset } from './r4-service-views.js';

/** The e-Referral Service's R4 API (published servers .../referrals/FHIR, paths /R4/...). */
export const REFERRALS_R4_BASE = '/referrals/FHIR/R4';

interface IdParams {
  id: string;
}
type Query = Record<string, string | string[] | undefined>;

const HEADERS = {
  'nhsd-ers-business-function':
    "the caller's e-RS Business Function (REFERRING_CLINICIAN or REFERRING_CLINICIAN_ADMIN)",
  'nhsd-end-user-organisation-ods': "the ODS code of the caller's organisation",
};
const SPCA_HEADERS = {
  'nhsd-ers-business-function': 'SERVICE_PROVIDER_CLINICIAN_ADMIN (the only function a040 serves)',
  'nhsd-end-user-organisation-ods': "the ODS code of the caller's organisation",
};

/** Published query parameters only (a030 publishes none; a040 only _query). */
function only(query: Query, allowed: readonly string[]): void {
  const unknown = Object.keys(query).filter((k) => !allowed.includes(k));
  if (unknown.length)
    throw badRequest(
      `Unsupported query parameter(s): ${unknown.map((k) => k.slice(0, 40)).join(', ')}`,
    );
}

/**
 * The R4 route table: HealthcareService/{id} (a033; HEAD for its version, a037), HealthcareService
 * search by _id (a035), PractitionerRole (a030: the caller's business functions) and
 * Practitioner?_query=onBehalfOf (a040). Refusals are NHSDigital-OperationOutcomes (r4-errors.ts).
 * The service reads need 'ers.service.search' and a referrer function, as a033/a035/a037 publish;
 * a030 needs only a staff user ('directory.read', held by every staff role: it reads the caller's
 * own role profiles); a040 needs 'ers.referral.read' with SERVICE_PROVIDER_CLINICIAN_ADMIN.
 */
export function r4Routes({ publicUrl, store }: Pick<ServiceDeps, 'publicUrl' | 'store'>) {
  const baseUrl = publicUrl + REFERRALS_R4_BASE;
  const services = new R4ServiceReads(store);
  const serviceRead = { fhirApi: true, activity: 'ers.service.search' } as const;
  const referrer = (req: FastifyRequest) =>
    publishedCaller(req, serviceRead.activity, REFERRERS, false);

  return async function plugin(app: FastifyInstance): Promise<void> {
    useR4Errors(app);

    const readService = async (req: FastifyRequest<{ Params: IdParams }>, reply: FastifyReply) => {
      referrer(req);
      const service = await services.read(req.params.id);
      return reply
        .code(200)
        .type(FHIR_JSON)
        .header('etag', etagFor(Number(service.meta.versionId)))
        .header('cache-control', 'no-cache')
        .send(req.method === 'HEAD' ? undefined : service);
    };
    const byId = { params: pathParams('id'), headers: described(HEADERS) };
    app.get<{ Params: IdParams }>(
      '/HealthcareService/:id',
      { schema: byId, config: serviceRead, exposeHeadRoute: false },
      readService,
    );
    // a037: the current version in the ETag, no body
    app.head<{ Params: IdParams }>(
      '/HealthcareService/:id',
      { schema: byId, config: serviceRead },
      readService,
    );

    app.get<{ Querystring: Query }>(
      '/HealthcareService',
      {
        schema: {
          querystring: described({ _id: 'one to 20 service ids, comma-separated (required)' }),
          headers: described(HEADERS),
        },
        config: { ...serviceRead, searchParams: SERVICE_SEARCH_PARAMS },
        exposeHeadRoute: false,
      },
      async (req, reply) => {
        referrer(req);
        const ids = parseServiceSearch(req.query);
        const found = await services.search(ids);
        const self = `${baseUrl}/HealthcareService?_id=${ids.map(encodeURIComponent).join(',')}`;
        return reply
          .type(FHIR_JSON)
          .send(
            serviceSearchset(
              found,
              self,
              (id) => `${baseUrl}/HealthcareService/${id}`,
              randomUUID(),
            ),
          );
      },
    );

    app.get<{ Querystring: Query }>(
      '/PractitionerRole',
      {
        schema: { querystring: queryParams([]) },
        config: { fhirApi: true, activity: 'directory.read' },
        exposeHeadRoute: false,
      },
      async (req, reply) => {
        only(req.query, []);
        const principal = req.ctx.principal!;
        const functions = await callerBusinessFunctions(store, principal);
        return reply
          .type(FHIR_JSON)
          .send(businessFunctionBundle(principal.userId, functions, baseUrl, randomUUID()));
      },
    );

    app.get<{ Querystring: Query }>(
      '/Practitioner',
      {
        schema: {
          querystring: described({ _query: "'onBehalfOf' (required)" }),
          headers: described(SPCA_HEADERS),
        },
        config: { fhirApi: true, activity: 'ers.referral.read' },
        exposeHeadRoute: false,
      },
      async (req, reply) => {
        const caller = publishedCaller(
          req,
          'ers.referral.read',
          ['SERVICE_PROVIDER_CLINICIAN_ADMIN'],
          false,
        );
        only(req.query, ['_query']);
        if (req.query._query !== 'onBehalfOf')
          throw badRequest("The _query parameter is required and must be 'onBehalfOf'");
        const users = await onBehalfOfUsers(store, caller.ods, req.ctx.principal!.userId);
        return reply.type(FHIR_JSON).send(practitionerBundle(users, baseUrl, randomUUID()));
      },
    );
  };
}
