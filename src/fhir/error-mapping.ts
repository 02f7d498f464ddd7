/**
 * Any error to the FhirError a caller sees: the platform's one mapping, used by the HTTP layer's
 * error handler and by services that audit a refusal before it is answered. Lives under fhir/ so
 * that services need not import the HTTP layer to learn what their error will be answered as.
 */
import type { FastifyReply } from 'fastify';
import { FhirError, operationOutcome, versionMismatch } from './errors.js';
import { FHIR_JSON } from './media-types.js';
import { VersionConflictError } from '../store/errors.js';

/** Fastify error codes that are the caller's fault, with the OperationOutcome they deserve. */
const CLIENT_ERRORS: Record<string, (err: Error) => FhirError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () =>
    new FhirError(413, 'MESSAGE_TOO_LARGE', 'Request body is larger than the server accepts'),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new FhirError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      'Unsupported Content-Type; use application/fhir+json (application/json-patch+json for PATCH)',
    ),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new FhirError(400, 'MISSING_VALUE', 'Request body is empty'),
  FST_ERR_CTP_INVALID_JSON_BODY: () =>
    new FhirError(400, 'INVALID_VALUE', 'Request body is not valid JSON'),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () =>
    new FhirError(400, 'INVALID_VALUE', 'Content-Length does not match the body'),
  FST_ERR_VALIDATION: (err) =>
    new FhirError(400, 'INVALID_VALUE', `Invalid request - ${err.message}`),
  // the router's own refusals, answered through frameworkErrorHandler
  FST_ERR_BAD_URL: () =>
    new FhirError(
      400,
      'INVALID_VALUE',
      'Invalid request - the URL path is not validly percent-encoded',
    ),
  FST_ERR_MAX_PARAM_LENGTH: () =>
    new FhirError(
      400,
      'INVALID_RESOURCE_ID',
      'Invalid resource ID - an id in the URL path is longer than the server accepts',
    ),
};

/** Maps any error to the FhirError the caller sees; unknown errors become a bare 500 with no detail. */
export function toFhirError(err: unknown): FhirError {
  if (err instanceof FhirError) return err;
  if (err instanceof VersionConflictError) return versionMismatch();
  const e = err as Error & { code?: string; statusCode?: number };
  if (e?.code && CLIENT_ERRORS[e.code]) return CLIENT_ERRORS[e.code](e);
  if (e instanceof SyntaxError)
    return new FhirError(400, 'INVALID_VALUE', 'Request body is not valid JSON');
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new FhirError(e.statusCode, 'INVALID_VALUE', 'Invalid request');
  }
  return new FhirError(
    500,
    'INTERNAL_SERVER_ERROR',
    'An unexpected error occurred; quote the X-Request-ID to support',
  );
}

/** Writes a FhirError onto a reply as its OperationOutcome, with the error's headers. */
export function sendError(reply: FastifyReply, error: FhirError): FastifyReply {
  for (const [k, v] of Object.entries(error.headers)) reply.header(k, v);
  return reply
    .code(error.status)
    .type(FHIR_JSON)
    .send(
      operationOutcome(error.spineCode, error.diagnostics, undefined, error.status, error.issue),
    );
}
