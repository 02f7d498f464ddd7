import type { FastifyInstance } from 'fastify';
import type { FhirResource } from 'fhir/r4.js';
import { FhirError, operationOutcome } from '../../fhir/errors.js';
import { searchsetBundle } from '../../fhir/bundle.js';
import { etagFor } from '../../fhir/etag.js';
import { FHIR_JSON } from '../../http/fhir-conventions.js';
import type { Repository } from '../../store/types.js';
import { ENDPOINT_PARAMS, ORGANIZATION_PARAMS, parseSearch, type RawQuery } from './directory-search.js';
import { ENDPOINT } from './endpoint-model.js';
import { ODS_CODE, ORGANIZATION } from './organization-model.js';

export const DIRECTORY_BASE = '/spine-directory/FHIR/R4';

interface OdsParams { odsCode: string }

/** Spine Directory (SDS/ODS) FHIR API: read-only Organization and Endpoint routes for every staff role. */
export function directoryRoutes(repo: Repository, publicUrl: string) {
  const base = publicUrl + DIRECTORY_BASE;

  async function search(type: string, query: RawQuery, params: typeof ORGANIZATION_PARAMS) {
    const { criteria, count } = parseSearch(query, params);
    const ids = await repo.search({ type, criteria, limit: count + 1 });
    const found = await repo.readMany(type, ids.slice(0, count));
    const bundle = searchsetBundle(found.map((s) => ({ resource: s.resource as FhirResource, fullUrl: `${base}/${type}/${s.id}` })));
    if (ids.length > count) {
      // more matches than the page holds: say so rather than claim a total we did not count
      delete bundle.total;
      bundle.entry!.push({ search: { mode: 'outcome' }, resource: operationOutcome('TOO_MANY_MATCHES', `More than ${count} matches; refine the search or raise _count`, 'warning') });
    }
    return bundle;
  }

  return async function plugin(app: FastifyInstance): Promise<void> {
    const config = { fhirApi: true, activity: 'directory.read' } as const;

    app.get<{ Params: OdsParams }>('/Organization/:odsCode', { config }, async (req, reply) => {
      const code = req.params.odsCode.toUpperCase();
      if (!ODS_CODE.test(code)) throw new FhirError(400, 'INVALID_RESOURCE_ID', `Invalid resource ID - '${req.params.odsCode.slice(0, 40)}' is not an ODS code`);
      const stored = await repo.readJson(ORGANIZATION, code);
      if (!stored) throw new FhirError(404, 'RESOURCE_NOT_FOUND', `Organization ${code} is not in the directory`);
      return reply.type(FHIR_JSON).header('etag', etagFor(stored.version)).send(stored.json);
    });

    app.get('/Organization', { config }, async (req, reply) =>
      reply.type(FHIR_JSON).send(await search(ORGANIZATION, req.query as RawQuery, ORGANIZATION_PARAMS)));

    app.get('/Endpoint', { config }, async (req, reply) =>
      reply.type(FHIR_JSON).send(await search(ENDPOINT, req.query as RawQuery, ENDPOINT_PARAMS)));
  };
}
