/**
 * The CapabilityStatements of the e-RS STU3 and R4 APIs, read off the platform's route table
 * (app.routeTable, as every service's /metadata is: src/fhir/metadata-route.ts), so they cannot
 * list a route that is not served nor miss one that is. Built when first asked for, when every
 * route is registered. The R4 statement is in the platform's R4 envelope; the STU3 one in STU3's
 * shape (fhirVersion 3.0.1, acceptUnknown, operations at rest level with a Reference definition).
 */
import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceInteraction,
  CapabilityStatementRestResourceSearchParam,
} from 'fhir/r4.js';
import { capabilityStatement, type RouteShape } from '../../fhir/capability.js';
import { OPERATION_DEFINITION_BASE } from '../../fhir/metadata-route.js';
import { SERVICE_SEARCH_PARAMS } from './r4-service-reads.js';
import { SERVICE_REQUEST_SEARCH_PARAMS } from './r4-service-requests.js';

const DATE = '2026-12-06';
const SECURITY =
  'OAuth2 bearer tokens (user-restricted: a staff role allowing the route activity); X-Request-ID (UUID) on every request; ' +
  'NHSD-eRS-Business-Function and NHSD-End-User-Organisation-ODS on every route but R4 PractitionerRole';

/** One route of an API in capability terms, or null for a route that is none (metadata). */
export type RouteCapability =
  | { kind: 'interaction'; type: string; code: string }
  | { kind: 'operation'; type: string | null; name: string };

const isType = (s: string | undefined) => s !== undefined && /^[A-Z][A-Za-z]+$/.test(s);
const isParam = (s: string | undefined) => s !== undefined && s.startsWith(':');
/** An operation segment; e-RS names its operations with a dot ($ers.createReferral). */
const op = (s: string | undefined) =>
  s !== undefined && /^\$[A-Za-z][A-Za-z0-9.-]*$/.test(s) ? s.slice(1) : undefined;
const INSTANCE: Record<string, string> = {
  GET: 'read',
  PUT: 'update',
  PATCH: 'patch',
  DELETE: 'delete',
};

/**
 * What a route under an API's base is. The platform's classifier (fhir/capability.ts) knows neither
 * e-RS's dotted operation names nor vread, so the e-RS statements classify their routes here.
 */
export function routeCapability(method: string, path: string): RouteCapability | null {
  const seg = path.split('/').filter(Boolean);
  const [type, second, third, fourth] = seg;
  if (seg.length === 1 && op(type)) return { kind: 'operation', type: null, name: op(type)! };
  if (!isType(type)) return null;
  if (seg.length === 1) {
    if (method === 'GET') return { kind: 'interaction', type, code: 'search-type' };
    if (method === 'POST') return { kind: 'interaction', type, code: 'create' };
    return null;
  }
  if (seg.length === 2 && op(second)) return { kind: 'operation', type, name: op(second)! };
  if (seg.length === 2 && isParam(second) && INSTANCE[method])
    return { kind: 'interaction', type, code: INSTANCE[method] };
  if (seg.length === 3 && isParam(second) && op(third))
    return { kind: 'operation', type, name: op(third)! };
  if (seg.length === 3 && isParam(second) && third === '_history' && method === 'GET')
    return { kind: 'interaction', type, code: 'history-instance' };
  if (seg.length === 4 && isParam(second) && third === '_history' && isParam(fourth))
    return method === 'GET' ? { kind: 'interaction', type, code: 'vread' } : null;
  return null;
}

/** The routes of one API (HEAD mirrors and the metadata route left out), by path under it. */
export function apiRoutes(apiPath: string, routes: readonly RouteShape[]): RouteShape[] {
  return routes
    .filter((r) => r.method !== 'HEAD' && r.url.startsWith(apiPath + '/'))
    .map((r) => ({ method: r.method, url: r.url.slice(apiPath.length) }))
    .filter((r) => r.url !== '/metadata');
}

const ORDER = [
  'read',
  'vread',
  'update',
  'patch',
  'delete',
  'history-instance',
  'create',
  'search-type',
];
const byOrder = (a: string, b: string) => ORDER.indexOf(a) - ORDER.indexOf(b);
const definition = (type: string | null, name: string) =>
  `${OPERATION_DEFINITION_BASE}${type ? `${type}-` : ''}${name}`;

interface DerivedApi {
  /** Per resource type, its interactions and operations. */
  types: Map<string, { interactions: Set<string>; operations: Set<string> }>;
  /** Operations on the base itself. */
  system: Set<string>;
}

/** The resource types, interactions and operations of the routes under `apiPath`. */
export function deriveApi(apiPath: string, routes: readonly RouteShape[]): DerivedApi {
  const types: DerivedApi['types'] = new Map();
  const system = new Set<string>();
  for (const r of apiRoutes(apiPath, routes)) {
    const shape = routeCapability(r.method, r.url);
    if (!shape) continue;
    if (shape.type === null) {
      if (shape.kind === 'operation') system.add(shape.name);
      continue;
    }
    const entry = types.get(shape.type) ?? { interactions: new Set(), operations: new Set() };
    types.set(shape.type, entry);
    if (shape.kind === 'interaction') entry.interactions.add(shape.code);
    else entry.operations.add(shape.name);
  }
  return { types: new Map([...types.entries()].sort(([a], [b]) => a.localeCompare(b))), system };
}

/** The e-RS STU3 API's statement, in STU3's shape (operations at rest level, by Reference). */
export function stu3CapabilityStatement(
  apiPath: string,
  publicUrl: string,
  routes: readonly RouteShape[],
) {
  const { types, system } = deriveApi(apiPath, routes);
  // STU3 requires an interaction per resource: a type with only operations is listed by them
  const resource = [...types.entries()]
    .filter(([, e]) => e.interactions.size)
    .map(([type, e]) => ({
      type,
      interaction: [...e.interactions].sort(byOrder).map((code) => ({ code })),
    }));
  const operation = [
    ...[...types.entries()].flatMap(([type, e]) =>
      [...e.operations].map((name) => ({
        name,
        definition: { reference: definition(type, name) },
      })),
    ),
    ...[...system].map((name) => ({ name, definition: { reference: definition(null, name) } })),
  ].sort((a, b) => a.definition.reference.localeCompare(b.definition.reference));
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: DATE,
    publisher: 'OpenSpine',
    kind: 'instance',
    software: { name: 'OpenSpine e-Referral Service (STU3)', version: '0.1.0' },
    implementation: {
      description: 'OpenSpine e-Referral Service: the e-RS FHIR STU3 API',
      url: publicUrl + apiPath,
    },
    fhirVersion: '3.0.1',
    acceptUnknown: 'no',
    format: ['application/fhir+json'],
    rest: [
      {
        mode: 'server',
        security: { cors: false, description: SECURITY },
        ...(resource.length ? { resource } : {}),
        ...(operation.length ? { operation } : {}),
      },
    ],
  };
}

/** Search parameters and notes of the R4 resources this module serves (from their parsers). */
const R4_SEARCH_PARAMS: Record<string, CapabilityStatementRestResourceSearchParam[]> = {
  HealthcareService: SERVICE_SEARCH_PARAMS.map((name) => ({
    name,
    type: 'token',
    documentation: 'one to 20 service ids, comma-separated (required)',
  })),
  Practitioner: [{ name: '_query', type: 'token', documentation: "'onBehalfOf' (required)" }],
  ServiceRequest: SERVICE_REQUEST_SEARCH_PARAMS.map((name) => ({
    name,
    type: 'token',
    documentation: '[https://fhir.nhs.uk/Id/UBRN|]UBRN (required)',
  })),
};
const R4_DOCUMENTATION: Record<string, string> = {
  HealthcareService:
    'e-RS services (directory services with an e-RS profile): read (a033), HEAD for the current version in the ETag (a037), search by _id (a035)',
  PractitionerRole: "The caller's e-RS business functions per organisation (a030)",
  Practitioner:
    'The SERVICE_PROVIDER_CLINICIANs a SERVICE_PROVIDER_CLINICIAN_ADMIN may act for (a040)',
  ServiceRequest: 'The ids of the referral and/or A&G request under a UBRN (a041)',
  Binary: 'An attachment: 307 to a temporary download location (a042), $download serves its bytes',
};

/** The e-RS R4 API's statement (the platform's R4 envelope). */
export function r4CapabilityStatement(
  apiPath: string,
  publicUrl: string,
  routes: readonly RouteShape[],
): CapabilityStatement {
  const { types, system } = deriveApi(apiPath, routes);
  const resources = [...types.entries()].map(([type, e]): CapabilityStatementRestResource => ({
    type,
    ...(R4_DOCUMENTATION[type] ? { documentation: R4_DOCUMENTATION[type] } : {}),
    ...(e.interactions.size
      ? {
          interaction: [...e.interactions]
            .sort(byOrder)
            .map((code) => ({ code: code as CapabilityStatementRestResourceInteraction['code'] })),
        }
      : {}),
    ...(e.interactions.has('search-type') && R4_SEARCH_PARAMS[type]
      ? { searchParam: R4_SEARCH_PARAMS[type] }
      : {}),
    ...(e.operations.size
      ? {
          operation: [...e.operations]
            .sort()
            .map((name) => ({ name, definition: definition(type, name) })),
        }
      : {}),
  }));
  return capabilityStatement({
    base: publicUrl + apiPath,
    software: 'OpenSpine e-Referral Service (R4)',
    description: 'OpenSpine e-Referral Service: the e-RS FHIR R4 API',
    date: DATE,
    security: SECURITY,
    resources,
    operations: [...system].sort().map((name) => ({ name, definition: definition(null, name) })),
  });
}
