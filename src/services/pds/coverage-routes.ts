import type { FastifyInstance, FastifyRequest } from 'fastify';
import { etagFor, parseIfMatch } from '../../fhir/etag.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { ServiceDeps } from '../service-deps.js';
import { coverageSubscriber } from './coverage-rules.js';
import { CoverageService, INVALID_COVERAGE_SEARCH, isCoverageSearch } from './coverage-service.js';
import { PDS_BASE } from './base-path.js';
import {
  isApplicationMode,
  refusalDiagnostics,
  tokenKind,
  usePublishedErrors,
} from './published-errors.js';
import { refuseUnsupportedContentTypes } from './unsupported-request.js';
import { described, queryParams } from '../route-schemas.js';

/**
 * The EHIC details of a patient (GET and POST /Coverage, mounted under the PDS base path). PDS
 * offers them in patient access mode only: a patient reads and replaces their own card; staff and
 * application tokens are refused, in PDS's words.
 */
export function coverageRoutes({
  store: repo,
  audit,
  publicUrl,
}: Pick<ServiceDeps, 'store' | 'audit' | 'publicUrl'>) {
  const service = new CoverageService(repo, audit, publicUrl + PDS_BASE);
  return async function plugin(app: FastifyInstance): Promise<void> {
    refuseUnsupportedContentTypes(app);
    usePublishedErrors(app, (request: FastifyRequest, err) => {
      const kind = tokenKind(request);
      if (kind === 'user-restricted' || isApplicationMode(kind)) {
        return {
          status: 403,
          issue: {
            code: 'ACCESS_DENIED',
            issueCode: 'forbidden',
            display: `Cannot ${request.method} resource with ${kind} access token`,
            diagnostics: refusalDiagnostics(
              'Your app has insufficient permissions to use this operation. Please contact support.',
              err,
            ),
          },
        };
      }
      // a patient's malformed request is answered as malformed before whose record it names is weighed
      if (
        kind === 'patient-access' &&
        request.method === 'GET' &&
        !isCoverageSearch(request.query)
      ) {
        return {
          status: 400,
          issue: {
            code: 'INVALID_SEARCH_DATA',
            issueCode: 'value',
            display: 'Search data is invalid',
            diagnostics: INVALID_COVERAGE_SEARCH,
          },
        };
      }
      if (
        kind === 'patient-access' &&
        request.method === 'POST' &&
        coverageSubscriber(request.body) === undefined
      ) {
        return {
          status: 400,
          issue: {
            code: 'MISSING_VALUE',
            issueCode: 'required',
            display: 'Required value is missing',
            diagnostics: "Missing value - 'subscriber/identifier/value'",
          },
        };
      }
      return undefined;
    });

    app.get(
      '/Coverage',
      {
        schema: { querystring: queryParams(['subscriber:identifier']) },
        config: {
          fhirApi: true,
          activity: 'pds.coverage.read',
          patientFrom: { query: 'subscriber:identifier' },
        },
      },
      async (req, reply) => {
        const { bundle, version } = await service.search(req.ctx, req.query);
        return reply.type(FHIR_JSON).header('etag', etagFor(version)).send(bundle);
      },
    );

    app.post(
      '/Coverage',
      {
        schema: { headers: described({ 'if-match': 'W/"<version>" of the card replaced' }) },
        config: {
          fhirApi: true,
          activity: 'pds.coverage.update',
          patientFrom: { body: coverageSubscriber },
        },
      },
      async (req, reply) => {
        const expected = parseIfMatch(req.headers['if-match']);
        const { bundle, version } = await service.update(req.ctx, expected, req.body);
        return reply.code(201).type(FHIR_JSON).header('etag', etagFor(version)).send(bundle);
      },
    );
  };
}
