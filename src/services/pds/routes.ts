import type { FastifyInstance, FastifyReply } from 'fastify';
import { FhirError } from '../../fhir/errors.js';
import { etagFor, parseIfMatch } from '../../fhir/etag.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { ServiceDeps } from '../service-deps.js';
import { pdsCapabilityStatement } from './capability.js';
import type { VersionedPatient } from './patient-answers.js';
import { PatientService } from './patient-service.js';
import { methodRefusal, usePublishedErrors } from './published-errors.js';
import { pdsUnsupportedRequest, refuseUnsupportedContentTypes } from './unsupported-request.js';
import { PDS_BASE } from './base-path.js';
import { described, pathParams } from '../route-schemas.js';
import { traceQueryRefusal, traceQuerySchema } from './trace-query-schema.js';

interface NhsParams {
  nhsNumber: string;
}

function sendPatient(
  reply: FastifyReply,
  result: VersionedPatient | { json: string; version: number },
  status = 200,
) {
  return reply
    .code(status)
    .type(FHIR_JSON)
    .header('etag', etagFor(result.version))
    .send('json' in result ? result.json : result.patient);
}

/** PDS FHIR API routes: one plugin, mounted under the PDS base path. */
export function pdsRoutes({
  store: repo,
  audit,
  publicUrl,
}: Pick<ServiceDeps, 'store' | 'audit' | 'publicUrl'>) {
  const service = new PatientService(repo, audit, publicUrl + PDS_BASE);
  return async function plugin(app: FastifyInstance): Promise<void> {
    const fhir = { fhirApi: true } as const;
    // a patient's own token may reach routes that name its NHS Number, and no other record
    const own = { fhirApi: true, patientFrom: { param: 'nhsNumber' } } as const;
    app.setNotFoundHandler(pdsUnsupportedRequest(PDS_BASE));
    // refusals by token and access mode in PDS's published words; any other error goes to the platform's handler
    usePublishedErrors(app, methodRefusal);
    refuseUnsupportedContentTypes(app);

    app.get('/metadata', { config: { ...fhir, public: true } }, async (_req, reply) =>
      reply.type(FHIR_JSON).send(pdsCapabilityStatement(publicUrl + PDS_BASE)),
    );

    app.get<{ Params: NhsParams }>(
      '/Patient/:nhsNumber',
      {
        schema: { params: pathParams('nhsNumber') },
        config: { ...own, activity: 'pds.read', locationRelease: 'pds-current' },
      },
      async (req, reply) =>
        sendPatient(reply, await service.readForResponse(req.ctx, req.params.nhsNumber)),
    );

    app.get(
      '/Patient',
      {
        // the query's shape (some parameters, each known) in PDS's published words
        schema: { querystring: traceQuerySchema },
        schemaErrorFormatter: traceQueryRefusal,
        config: { ...fhir, activity: 'pds.search', locationRelease: 'pds-current' },
        preValidation: async (req) => {
          req.query = withoutEmptyPairs(req.query as Record<string, string | string[]>);
        },
      },
      async (req, reply) =>
        reply
          .type(FHIR_JSON)
          .send(await service.search(req.ctx, req.query as Record<string, string | string[]>)),
    );

    app.patch<{ Params: NhsParams }>(
      '/Patient/:nhsNumber',
      {
        schema: {
          params: pathParams('nhsNumber'),
          headers: described({ 'if-match': 'W/"<version>" of the record the patch applies to' }),
        },
        config: { ...own, activity: 'pds.update' },
      },
      async (req, reply) => {
        const contentType = String(req.headers['content-type'] ?? '')
          .split(';')[0]
          .trim()
          .toLowerCase();
        // published: "Content-Type header missing or other than application/json-patch+json": 400
        // UNSUPPORTED_SERVICE without diagnostics (patient-patch.yaml, mocks/sandbox/patch-patient.js)
        if (contentType !== 'application/json-patch+json')
          throw new FhirError(400, 'UNSUPPORTED_SERVICE', '');
        const expected = parseIfMatch(req.headers['if-match']);
        return sendPatient(
          reply,
          await service.patch(req.ctx, req.params.nhsNumber, expected, req.body),
        );
      },
    );

    // PATCH without an NHS Number in the path
    app.patch('/Patient', { config: { ...fhir, activity: 'pds.update' } }, async () => {
      throw new FhirError(
        400,
        'UNSUPPORTED_SERVICE',
        'Invalid request - an NHS Number is required in the path',
      );
    });

    app.post('/Patient', { config: { ...fhir, activity: 'pds.create' } }, async (req, reply) => {
      const result = await service.register(req.ctx, req.body);
      if (!result.created) return reply.code(200).type(FHIR_JSON).send(result.outcome);
      return sendPatient(
        reply.header('location', `${publicUrl}${PDS_BASE}/Patient/${result.patient.patient.id}`),
        result.patient,
        201,
      );
    });

    app.post(
      '/Patient/$merge',
      { config: { ...fhir, activity: 'pds.merge' } },
      async (req, reply) => sendPatient(reply, await service.merge(req.ctx, req.body)),
    );

    app.get<{ Params: NhsParams }>(
      '/Patient/:nhsNumber/RelatedPerson',
      {
        schema: { params: pathParams('nhsNumber') },
        config: { ...own, activity: 'pds.read', searchParams: [] },
      },
      async (req, reply) =>
        reply.type(FHIR_JSON).send(await service.relatedPersons(req.ctx, req.params.nhsNumber)),
    );

    app.get<{ Params: NhsParams }>(
      '/Patient/:nhsNumber/_history',
      { schema: { params: pathParams('nhsNumber') }, config: { ...own, activity: 'pds.read' } },
      async (req, reply) =>
        reply.type(FHIR_JSON).send(await service.history(req.ctx, req.params.nhsNumber)),
    );
  };
}

/**
 * A bare `=` in the query string (no name, no value) names no parameter: PDS ignores it, as the published
 * Postman collection shows ("Invalid date format - birth date" sends `...&birthdate=20101022&=` and is
 * answered INVALID_VALUE for the birth date, not ADDITIONAL_PROPERTIES).
 */
function withoutEmptyPairs(
  query: Record<string, string | string[]>,
): Record<string, string | string[]> {
  const empty = query[''];
  if (empty === undefined || ![empty].flat().every((v) => v === '')) return query;
  const { ['']: _ignored, ...rest } = query;
  return rest;
}
