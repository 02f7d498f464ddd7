import type { FastifyInstance } from 'fastify';
import { FHIR_JSON } from '../../fhir/media-types.js';
import { described, pathParams } from '../route-schemas.js';
import type { ServiceDeps } from '../service-deps.js';
import { ersError, useErsErrors } from './ers-errors.js';
import { CLINICAL_FUNCTIONS, publishedCaller } from './r4-callers.js';
import {
  CODE_SYSTEM_TYPES,
  codeSystem,
  isCodeSystemType,
  type CodeSystemType,
} from './reference-data-code-systems.js';

/** Where the published `_baseUrl_` of the referral APIs is mounted (the STU3 and R4 bases are under it). */
export const REFERRALS_API_ROOT = '/referrals/FHIR';

const HEADERS = {
  'nhsd-ers-business-function':
    'REFERRING_CLINICIAN, REFERRING_CLINICIAN_ADMIN, SERVICE_PROVIDER_CLINICIAN or SERVICE_PROVIDER_CLINICIAN_ADMIN',
  'nhsd-end-user-organisation-ods': "the ODS code of the caller's organisation",
  'nhsd-ers-on-behalf-of-user-id':
    'the SDS user ID a SERVICE_PROVIDER_CLINICIAN_ADMIN acts for (required with that function only)',
};

/**
 * a004 (GET /STU3/CodeSystem/{codeSystemType}): the reference data code systems, mounted under the
 * STU3 base. Read by any of the four business functions a004 publishes ('ers.referral.read', which
 * every e-RS role holds, plus the published list); an unknown name is 404 REC_NOT_FOUND; a004 takes
 * no query parameters, so any is 400 INVALID_VALUE.
 */
export function referenceDataRoutes({ publicUrl }: Pick<ServiceDeps, 'publicUrl'>) {
  const apiBase = publicUrl + REFERRALS_API_ROOT;
  // serialised once: they change only with the code, and the largest is ~30 KB
  const built = new Map<CodeSystemType, string>(
    CODE_SYSTEM_TYPES.map((type) => [type, JSON.stringify(codeSystem(type, apiBase))]),
  );

  return async function plugin(app: FastifyInstance): Promise<void> {
    useErsErrors(app);
    app.get<{ Params: { codeSystemType: string }; Querystring: Record<string, unknown> }>(
      '/CodeSystem/:codeSystemType',
      {
        schema: { params: pathParams('codeSystemType'), headers: described(HEADERS) },
        config: { fhirApi: true, activity: 'ers.referral.read' },
        exposeHeadRoute: false,
      },
      async (req, reply) => {
        publishedCaller(req, 'ers.referral.read', CLINICAL_FUNCTIONS, true);
        const unknown = Object.keys(req.query ?? {});
        if (unknown.length)
          throw ersError(
            400,
            'value',
            'INVALID_VALUE',
            `a004 takes no query parameters (${unknown.map((k) => k.slice(0, 40)).join(', ')})`,
          );
        const name = req.params.codeSystemType;
        if (!isCodeSystemType(name))
          throw ersError(
            404,
            'not-found',
            'REC_NOT_FOUND',
            `No code system '${name.slice(0, 60)}' (known: ${CODE_SYSTEM_TYPES.join(', ')})`,
          );
        return reply.type(FHIR_JSON).send(built.get(name));
      },
    );
  };
}
