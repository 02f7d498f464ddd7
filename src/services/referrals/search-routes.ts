import type { FastifyInstance } from 'fastify';
import { FHIR_JSON } from '../../fhir/media-types.js';
import { described } from '../route-schemas.js';
import type { ServiceDeps } from '../service-deps.js';
import { useErsErrors } from './ers-errors.js';
import { parseErsCaller } from './referral-rules.js';
import { REFERRALS_BASE } from './routes.js';
import { ServiceSearch } from './service-search-service.js';
import { fetchServicesList } from './service-search-views.js';

const HEADERS = {
  'nhsd-ers-business-function':
    "the caller's e-RS Business Function (REFERRING_CLINICIAN or REFERRING_CLINICIAN_ADMIN)",
  'nhsd-end-user-organisation-ods': "the ODS code of the caller's organisation",
};

/**
 * The service search route table (mounted under REFERRALS_BASE):
 * $ers.searchHealthcareServicesForPatient (a010). The route reads the published headers
 * (parseErsCaller) and makes one call into the ServiceSearch; its refusals are answered in eRS's
 * STU3 OperationOutcome (ers-errors.ts).
 */
export function serviceSearchRoutes({
  store,
  audit,
  publicUrl,
}: Pick<ServiceDeps, 'store' | 'audit' | 'publicUrl'>) {
  const search = new ServiceSearch(store, audit);
  const baseUrl = publicUrl + REFERRALS_BASE;

  return async function plugin(app: FastifyInstance): Promise<void> {
    useErsErrors(app);
    const access = { fhirApi: true, activity: 'ers.service.search' } as const;

    app.post(
      '/HealthcareService/$ers.searchHealthcareServicesForPatient',
      { schema: { headers: described(HEADERS) }, config: access },
      async (req, reply) => {
        const caller = parseErsCaller(req.headers, access.activity, req.ctx.principal, false);
        const { services } = await search.search(req.ctx, caller, req.body);
        return reply.code(200).type(FHIR_JSON).send(fetchServicesList(services, baseUrl));
      },
    );
  };
}
