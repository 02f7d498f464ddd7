import type { FastifyInstance } from 'fastify';
import type { CapabilityStatement, CapabilityStatementRestResourceSearchParam } from 'fhir/r4.js';
import { FHIR_JSON } from './media-types.js';
import { capabilitiesFromRoutes, capabilityStatement, type RouteShape } from './capability.js';

export const OPERATION_DEFINITION_BASE = 'https://openspine.dev/fhir/OperationDefinition/';

export interface ApiDescription {
  /** The API's path on the platform, e.g. /gp2gp/FHIR/R4. */
  apiPath: string;
  publicUrl: string;
  software: string;
  description: string;
  /** When this description last changed (YYYY-MM-DD). */
  date: string;
  security: string;
  /** Search parameters per resource type, from the service's parsers. */
  searchParams?: Record<string, CapabilityStatementRestResourceSearchParam[]>;
  /** Notes per resource type (how it is read, what a search needs). */
  documentation?: Record<string, string>;
}

/**
 * The CapabilityStatement of one API, its resources, interactions and operations derived from the
 * routes under its base.
 */
export function derivedCapabilityStatement(
  api: ApiDescription,
  routes: readonly RouteShape[],
): CapabilityStatement {
  const { resources, operations } = capabilitiesFromRoutes(api.apiPath, routes, {
    searchParams: api.searchParams,
    documentation: api.documentation,
    operationDefinition: (name, type) =>
      `${OPERATION_DEFINITION_BASE}${type ? `${type}-` : ''}${name}`,
  });
  return capabilityStatement({
    base: api.publicUrl + api.apiPath,
    software: api.software,
    description: api.description,
    date: api.date,
    security: api.security,
    resources,
    operations,
  });
}

/**
 * `GET [base]/metadata`: public (a client reads it before it has a token), built once from the
 * platform's route table when first asked for, when every route is registered.
 */
export function registerMetadataRoute(app: FastifyInstance, api: ApiDescription): void {
  let statement: CapabilityStatement | undefined;
  app.get('/metadata', { config: { fhirApi: true, public: true } }, async (_req, reply) => {
    statement ??= derivedCapabilityStatement(api, app.routeTable);
    return reply.type(FHIR_JSON).send(statement);
  });
}
