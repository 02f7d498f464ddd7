/**
 * Route schemas that document a route's shape without changing its answers. Fastify validates
 * them before the handler and refuses a mismatch with its own 400 (fhir/error-mapping.ts,
 * FST_ERR_VALIDATION), which is not what the published APIs say; so these never constrain:
 * - a path parameter is always a string when the route matched, so `{ type: 'string' }` passes;
 * - query and header parameters carry no type: a repeated parameter arrives as an array, and
 *   Fastify's ajv (coerceTypes: 'array') would refuse or coerce it. The route's own parser checks
 *   values and answers in the published words.
 */

/** A `params` schema: every named path parameter is a (required) string. */
export function pathParams<const K extends string>(...names: K[]) {
  return {
    type: 'object',
    properties: Object.fromEntries(names.map((name) => [name, { type: 'string' }])) as Record<
      K,
      { type: 'string' }
    >,
    required: names,
  } as const;
}

/** A `querystring` (or `headers`) schema naming what the route reads, each with a description. */
export function described(parameters: Record<string, string>) {
  return {
    type: 'object',
    properties: Object.fromEntries(
      Object.entries(parameters).map(([name, description]) => [name, { description }]),
    ),
  } as const;
}

/** A `querystring` schema naming the parameters a route reads (no types: see above). */
export function queryParams(names: readonly string[], description = 'search parameter') {
  return described(Object.fromEntries(names.map((name) => [name, description])));
}

/** A `querystring` schema from the search parameters a CapabilityStatement publishes for a resource. */
export function capabilityQuery(
  params: readonly { name: string; type?: string; documentation?: string }[] = [],
) {
  return described(
    Object.fromEntries(params.map((p) => [p.name, p.documentation ?? `${p.type} parameter`])),
  );
}
