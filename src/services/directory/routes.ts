import type { FastifyInstance } from 'fastify';
import type { FhirResource } from 'fhir/r4.js';
import { FhirError, operationOutcome } from '../../fhir/errors.js';
import { searchsetBundle } from '../../fhir/bundle.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import type { ServiceDeps } from '../service-deps.js';
import { etagFor as etag, parseIfMatch } from '../../fhir/etag.js';
import {
  ENDPOINT_PARAMS,
  HEALTHCARE_SERVICE_PARAMS,
  ORGANIZATION_PARAMS,
  parseSearch,
  PRACTITIONER_ROLE_PARAMS,
  type RawQuery,
} from './directory-search.js';
import { directoryCapabilityStatement } from './capability.js';
import { DirectoryWriter } from './directory-writes.js';
import { ENDPOINT } from './endpoint-model.js';
import { HEALTHCARE_SERVICE } from './healthcare-service-model.js';
import { ODS_CODE, ORGANIZATION } from './organization-model.js';
import { PRACTITIONER_ROLE } from './practitioner-role-model.js';
import { RESOURCE_ID } from './resource-rules.js';
import { described, pathParams, queryParams } from '../route-schemas.js';

export const DIRECTORY_BASE = '/spine-directory/FHIR/R4';

interface OdsParams {
  odsCode: string;
}
interface IdParams {
  id: string;
}

/** The searchable resource types other than Organization (which is read by ODS code), with their parameters. */
const SEARCHABLE = [
  [ENDPOINT, ENDPOINT_PARAMS],
  [HEALTHCARE_SERVICE, HEALTHCARE_SERVICE_PARAMS],
  [PRACTITIONER_ROLE, PRACTITIONER_ROLE_PARAMS],
] as const;

/**
 * Spine Directory (SDS/ODS) FHIR API: Organization, Endpoint, HealthcareService and PractitionerRole,
 * read and searched by every staff role; Endpoint, HealthcareService and PractitionerRole created
 * (POST) and updated (PUT with If-Match) by directory managers. Organizations come from the ODS import.
 */
export function directoryRoutes({
  store: repo,
  publicUrl,
}: Pick<ServiceDeps, 'store' | 'publicUrl'>) {
  const base = publicUrl + DIRECTORY_BASE;

  const writer = new DirectoryWriter(repo);

  async function search(type: string, query: RawQuery, params: typeof ORGANIZATION_PARAMS) {
    const { criteria, count } = parseSearch(query, params);
    const ids = await repo.search({ type, criteria, limit: count + 1 });
    const found = await repo.readMany(type, ids.slice(0, count));
    const bundle = searchsetBundle(
      found.map((s) => ({
        resource: s.resource as FhirResource,
        fullUrl: `${base}/${type}/${s.id}`,
      })),
    );
    if (ids.length > count) {
      // more matches than the page holds: say so rather than claim a total we did not count
      delete bundle.total;
      bundle.entry!.push({
        search: { mode: 'outcome' },
        resource: operationOutcome(
          'TOO_MANY_MATCHES',
          `More than ${count} matches; refine the search or raise _count`,
          'warning',
        ),
      });
    }
    return bundle;
  }

  return async function plugin(app: FastifyInstance): Promise<void> {
    const config = { fhirApi: true, activity: 'directory.read' } as const;

    app.get('/metadata', { config: { fhirApi: true, public: true } }, async (_req, reply) =>
      reply.type(FHIR_JSON).send(directoryCapabilityStatement(base)),
    );

    app.get<{ Params: OdsParams }>(
      '/Organization/:odsCode',
      { schema: { params: pathParams('odsCode') }, config },
      async (req, reply) => {
        const code = req.params.odsCode.toUpperCase();
        if (!ODS_CODE.test(code))
          throw new FhirError(
            400,
            'INVALID_RESOURCE_ID',
            `Invalid resource ID - '${req.params.odsCode.slice(0, 40)}' is not an ODS code`,
          );
        const stored = await repo.readJson(ORGANIZATION, code);
        if (!stored)
          throw new FhirError(
            404,
            'RESOURCE_NOT_FOUND',
            `Organization ${code} is not in the directory`,
          );
        return reply.type(FHIR_JSON).header('etag', etag(stored.version)).send(stored.json);
      },
    );

    const searchOf = (params: typeof ORGANIZATION_PARAMS) => ({
      querystring: queryParams(Object.keys(params)),
    });
    app.get(
      '/Organization',
      { schema: searchOf(ORGANIZATION_PARAMS), config },
      async (req, reply) =>
        reply
          .type(FHIR_JSON)
          .send(await search(ORGANIZATION, req.query as RawQuery, ORGANIZATION_PARAMS)),
    );

    const manage = { fhirApi: true, activity: 'directory.manage' } as const;
    for (const [type, params] of SEARCHABLE) {
      app.get(`/${type}`, { schema: searchOf(params), config }, async (req, reply) =>
        reply.type(FHIR_JSON).send(await search(type, req.query as RawQuery, params)),
      );

      app.get<{ Params: IdParams }>(
        `/${type}/:id`,
        { schema: { params: pathParams('id') }, config },
        async (req, reply) => {
          if (!RESOURCE_ID.test(req.params.id))
            throw new FhirError(
              400,
              'INVALID_RESOURCE_ID',
              `Invalid resource ID - '${req.params.id.slice(0, 64)}'`,
            );
          const stored = await repo.readJson(type, req.params.id);
          if (!stored)
            throw new FhirError(
              404,
              'RESOURCE_NOT_FOUND',
              `${type} '${req.params.id}' is not in the directory`,
            );
          return reply.type(FHIR_JSON).header('etag', etag(stored.version)).send(stored.json);
        },
      );

      app.post(`/${type}`, { config: manage }, async (req, reply) => {
        const { stored, status } = await writer.create(req.ctx, type, req.body);
        return reply
          .code(status)
          .type(FHIR_JSON)
          .header('etag', etag(stored.version))
          .header('location', `${base}/${type}/${stored.id}`)
          .send(stored.resource);
      });

      app.put<{ Params: IdParams }>(
        `/${type}/:id`,
        {
          schema: {
            params: pathParams('id'),
            headers: described({ 'if-match': 'W/"<version>" of the resource replaced' }),
          },
          config: manage,
        },
        async (req, reply) => {
          const expected = parseIfMatch(req.headers['if-match']);
          const { stored, status } = await writer.update(
            req.ctx,
            type,
            req.params.id,
            expected,
            req.body,
          );
          return reply
            .code(status)
            .type(FHIR_JSON)
            .header('etag', etag(stored.version))
            .send(stored.resource);
        },
      );
    }
  };
}
