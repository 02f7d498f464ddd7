/**
 * The shape of a PDS trace's query string (GET /Patient) as its route schema: at least one
 * parameter, and only parameters PDS knows. Fastify checks it before the handler, and
 * traceQueryRefusal answers a mismatch in PDS's published words; what the values say, and which
 * combinations may start a search, stay in parseTraceRequest (trace-request.ts).
 *
 * `propertyNames`, not `additionalProperties: false`: Fastify's ajv removes additional properties
 * (removeAdditional) instead of refusing them. The platform's ajv reports all errors (allErrors,
 * src/http/app.ts), so every unexpected parameter is named, as PDS names them.
 */
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import { FhirError } from '../../fhir/errors.js';
import { TRACE_PARAMS } from './trace-request.js';

export const traceQuerySchema = {
  type: 'object',
  minProperties: 1,
  propertyNames: { enum: [...TRACE_PARAMS] },
  properties: Object.fromEntries(TRACE_PARAMS.map((name) => [name, { description: 'trace' }])),
} as const;

/** The published refusal for a query string that fails traceQuerySchema. */
export function traceQueryRefusal(errors: FastifySchemaValidationError[]): Error {
  // PDS answers a search with no parameters as an unsupported service, with no diagnostics
  // (karate-tests searchErrors.feature "Too few search params - No params",
  // mocks/stubs/errorResponses/UNSUPPORTED_SERVICE.json)
  if (errors.some((e) => e.keyword === 'minProperties'))
    return new FhirError(400, 'UNSUPPORTED_SERVICE', '');
  const unexpected = [
    ...new Set(
      errors.filter((e) => e.keyword === 'propertyNames').map((e) => String(e.params.propertyName)),
    ),
  ]
    .map((key) => `'${key.slice(0, 60)}'`)
    .sort();
  // every unexpected parameter is named, as PDS's schema validation does (searchErrors.feature)
  const names = unexpected.slice(0, 20).join(', ');
  return new FhirError(
    400,
    'ADDITIONAL_PROPERTIES',
    `Invalid request with error - Additional properties are not allowed (${names} ${unexpected.length === 1 ? 'was' : 'were'} unexpected)`,
  );
}
