import type {
  CapabilityStatement,
  CapabilityStatementRestResource,
  CapabilityStatementRestResourceInteraction,
  CapabilityStatementRestResourceOperation,
  CapabilityStatementRestResourceSearchParam,
} from 'fhir/r4.js';

export interface ServiceCapabilities {
  /** The base URL of the service's FHIR API. */
  base: string;
  software: string;
  description: string;
  /** When this statement last changed (YYYY-MM-DD). */
  date: string;
  security: string;
  resources: CapabilityStatementRestResource[];
  /** Operations invoked on the base itself (`[base]/$name`). */
  operations?: CapabilityStatementRestResourceOperation[];
  patchFormat?: string[];
}

/** The CapabilityStatement envelope every OpenSpine FHIR API serves at `GET /metadata`. */
export function capabilityStatement(c: ServiceCapabilities): CapabilityStatement {
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: c.date,
    kind: 'instance',
    software: { name: c.software, version: '0.1.0' },
    implementation: { description: c.description, url: c.base },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json'],
    ...(c.patchFormat ? { patchFormat: c.patchFormat } : {}),
    rest: [
      {
        mode: 'server',
        security: { cors: false, description: c.security },
        // FHIR JSON has no empty arrays: an API with only system operations (bulk) lists no resource
        ...(c.resources.length ? { resource: c.resources } : {}),
        ...(c.operations?.length ? { operation: c.operations } : {}),
      },
    ],
  };
}

/** A route as the platform's route table lists it: method and full path (with the API base). */
export interface RouteShape {
  method: string;
  url: string;
}

type InteractionCode = CapabilityStatementRestResourceInteraction['code'];

/**
 * What one route of a FHIR API is, in CapabilityStatement terms; null for routes that are neither
 * (chunk uploads, poll URLs).
 */
export function classifyRoute(
  method: string,
  path: string,
):
  | { kind: 'interaction'; type: string; code: InteractionCode }
  | { kind: 'operation'; type: string | null; name: string }
  | null {
  const seg = path.split('/').filter(Boolean);
  const isType = (s: string | undefined) => s !== undefined && /^[A-Z][A-Za-z]+$/.test(s);
  const isParam = (s: string | undefined) => s !== undefined && s.startsWith(':');
  const op = (s: string | undefined) =>
    s !== undefined && /^\$[A-Za-z][A-Za-z0-9-]*$/.test(s) ? s.slice(1) : undefined;
  if (seg.length === 1 && op(seg[0])) return { kind: 'operation', type: null, name: op(seg[0])! };
  if (!isType(seg[0])) return null;
  const type = seg[0];
  if (seg.length === 1) {
    if (method === 'GET') return { kind: 'interaction', type, code: 'search-type' };
    if (method === 'POST') return { kind: 'interaction', type, code: 'create' };
    return null;
  }
  if (seg.length === 2 && op(seg[1])) return { kind: 'operation', type, name: op(seg[1])! };
  if (seg.length === 2 && isParam(seg[1])) {
    const code = (
      { GET: 'read', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<
        string,
        InteractionCode
      >
    )[method];
    return code ? { kind: 'interaction', type, code } : null;
  }
  if (seg.length === 3 && isParam(seg[1]) && op(seg[2]))
    return { kind: 'operation', type, name: op(seg[2])! };
  if (seg.length === 3 && isParam(seg[1]) && seg[2] === '_history' && method === 'GET')
    return { kind: 'interaction', type, code: 'history-instance' };
  return null;
}

export interface DerivedCapabilities {
  resources: CapabilityStatementRestResource[];
  operations: CapabilityStatementRestResourceOperation[];
}

const INTERACTION_ORDER: InteractionCode[] = [
  'read',
  'vread',
  'update',
  'patch',
  'delete',
  'history-instance',
  'history-type',
  'create',
  'search-type',
];

/**
 * The resources, interactions and operations of one FHIR API, read off the routes registered under
 * its base (so the statement cannot claim a route that does not exist, nor miss one that does).
 * Search parameters and per-resource notes come from the service, which owns their parsers.
 */
export function capabilitiesFromRoutes(
  apiPath: string,
  routes: readonly RouteShape[],
  opts: {
    searchParams?: Record<string, CapabilityStatementRestResourceSearchParam[]>;
    documentation?: Record<string, string>;
    /** The canonical URL of an operation's definition. */
    operationDefinition: (name: string, type: string | null) => string;
  },
): DerivedCapabilities {
  const byType = new Map<string, { interactions: Set<InteractionCode>; operations: Set<string> }>();
  const system = new Set<string>();
  for (const r of routes) {
    if (r.method === 'HEAD' || !r.url.startsWith(apiPath + '/')) continue;
    const shape = classifyRoute(r.method, r.url.slice(apiPath.length));
    if (!shape) continue;
    if (shape.kind === 'operation' && shape.type === null) {
      system.add(shape.name);
      continue;
    }
    const type = shape.type!;
    const entry = byType.get(type) ?? { interactions: new Set(), operations: new Set() };
    byType.set(type, entry);
    if (shape.kind === 'interaction') entry.interactions.add(shape.code);
    else entry.operations.add(shape.name);
  }
  const resources = [...byType.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, e]): CapabilityStatementRestResource => {
      const interaction = INTERACTION_ORDER.filter((c) => e.interactions.has(c)).map((code) => ({
        code,
      }));
      const searchParam = e.interactions.has('search-type') ? opts.searchParams?.[type] : undefined;
      const documentation = opts.documentation?.[type];
      return {
        type,
        ...(documentation ? { documentation } : {}),
        ...(interaction.length ? { interaction } : {}),
        ...(e.interactions.has('update') || e.interactions.has('patch')
          ? { versioning: 'versioned-update' as const }
          : {}),
        ...(searchParam?.length ? { searchParam } : {}),
        ...(e.operations.size
          ? {
              operation: [...e.operations]
                .sort()
                .map((name) => ({ name, definition: opts.operationDefinition(name, type) })),
            }
          : {}),
      };
    });
  const operations = [...system]
    .sort()
    .map((name) => ({ name, definition: opts.operationDefinition(name, null) }));
  return { resources, operations };
}
