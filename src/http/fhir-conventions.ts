import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FhirError } from '../fhir/errors.js';
import { sendError, toFhirError } from '../fhir/error-mapping.js';
import {
  hasLoneSurrogate,
  JSON_MAX_DEPTH,
  JSON_MAX_ELEMENTS_PER_MIB,
  jsonElementLimit,
  jsonShapeDiagnostics,
  jsonShapeProblem,
} from '../fhir/json-limits.js';
import { currentTraceId } from '../observability/tracing-spans.js';
import { fingerprintRequest } from './request-replay.js';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * Fastify's `frameworkErrors` option: what the router refuses before any route, hook or error
 * handler runs (a path whose percent-encoding does not decode, a path parameter longer than
 * maxParamLength, which Fastify answers 414) is an OperationOutcome like every other error.
 */
export function frameworkErrorHandler(
  err: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const requestId = request.headers['x-request-id'];
  const correlationId = request.headers['x-correlation-id'];
  if (typeof requestId === 'string') reply.header('x-request-id', requestId);
  if (typeof correlationId === 'string') reply.header('x-correlation-id', correlationId);
  const error = toFhirError(err);
  if (error.status >= 500) request.log.error({ err }, 'request failed in the router');
  sendError(reply, error);
}

/**
 * The FHIR HTTP conventions shared by every API: JSON content types, the X-Request-ID rule,
 * echoed request and correlation ids, and one error handler producing OperationOutcomes.
 */
export function registerFhirConventions(
  app: FastifyInstance,
  /** True once a draining server refuses new requests (src/http/drain.ts), before it closes. */
  refusing: () => boolean = () => false,
): void {
  const parseJson = (
    req: FastifyRequest,
    body: string,
    done: (err: Error | null, value?: unknown) => void,
  ) => {
    if (body.length === 0)
      return done(Object.assign(new Error('empty'), { code: 'FST_ERR_CTP_EMPTY_JSON_BODY' }));
    // a NUL character can be stored by neither store's text columns; refuse it before anything is parsed
    if (body.includes('\\u0000'))
      return done(
        new FhirError(
          400,
          'UNSUPPORTED_CHARACTERS_IN_FIELD',
          'Request body contains a NUL character (\\u0000)',
        ),
      );
    if (hasLoneSurrogate(body))
      return done(
        new FhirError(
          400,
          'UNSUPPORTED_CHARACTERS_IN_FIELD',
          'Request body contains an unpaired UTF-16 surrogate escape (\\ud800-\\udfff)',
        ),
      );
    // too deep or too many elements to walk safely (see json-limits.ts); routes taking larger
    // bodies allow more elements
    let maxElements = JSON_MAX_ELEMENTS_PER_MIB;
    let problem = jsonShapeProblem(body, JSON_MAX_DEPTH, maxElements);
    if (problem === 'elements') {
      maxElements = jsonElementLimit(req.routeOptions.bodyLimit);
      if (maxElements > JSON_MAX_ELEMENTS_PER_MIB)
        problem = jsonShapeProblem(body, JSON_MAX_DEPTH, maxElements);
    }
    if (problem)
      return done(new FhirError(400, 'INVALID_VALUE', jsonShapeDiagnostics(problem, maxElements)));
    try {
      done(null, JSON.parse(body));
    } catch {
      done(Object.assign(new Error('bad json'), { code: 'FST_ERR_CTP_INVALID_JSON_BODY' }));
    }
  };
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(
    ['application/json', 'application/fhir+json', 'application/json-patch+json'],
    { parseAs: 'string' },
    parseJson,
  );

  app.decorateRequest('ctx', null as never);
  // while the server drains (app.ts turns Fastify's own 503, a bare JSON body, off), requests are
  // refused here: answered directly, before the request context exists, so no refusal is audited
  // into a store that is closing
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  // callback style: this runs on every request, and an async hook costs a promise each time
  app.addHook('onRequest', (request, reply, done) => {
    if (closing || refusing()) {
      sendError(
        reply.header('connection', 'close'),
        new FhirError(
          503,
          'SERVICE_UNAVAILABLE',
          'Service unavailable - the server is shutting down; retry on another node',
        ),
      );
      return;
    }
    try {
      checkConventions(request, reply);
    } catch (err) {
      return done(err as Error);
    }
    done();
  });

  app.setNotFoundHandler((request, reply) => {
    sendError(
      reply,
      new FhirError(
        404,
        'RESOURCE_NOT_FOUND',
        `No route for ${request.method} ${request.url.split('?')[0]}`,
      ),
    );
  });

  app.setErrorHandler((err, request, reply) => {
    const error = toFhirError(err);
    if (error.status >= 500)
      request.log.error({ err, requestId: request.ctx?.requestId }, 'request failed');
    return sendError(reply, error);
  });
}

/** Sets the request context and echoes the ids; on FHIR API routes, refuses a missing or malformed X-Request-ID. */
function checkConventions(request: FastifyRequest, reply: FastifyReply): void {
  const requestId = request.headers['x-request-id'];
  const correlationId = request.headers['x-correlation-id'];
  request.ctx = {
    requestId: typeof requestId === 'string' ? requestId : '',
    correlationId: typeof correlationId === 'string' ? correlationId : undefined,
    traceId: currentTraceId(),
  };
  if (typeof requestId === 'string') reply.header('x-request-id', requestId);
  if (typeof correlationId === 'string') reply.header('x-correlation-id', correlationId);
  if (!request.routeOptions.config.fhirApi) return;
  if (/%00|\0/.test(request.url))
    throw new FhirError(
      400,
      'UNSUPPORTED_CHARACTERS_IN_FIELD',
      'Request URL contains a NUL character',
    );
  // an empty header counts as none (PDS karate invalidHeaders.feature: an empty X-Request-ID is MISSING_VALUE)
  if (requestId === undefined || requestId === '') {
    throw new FhirError(
      400,
      'MISSING_VALUE',
      'Invalid request with error - X-Request-ID header must be supplied to access this resource',
    );
  }
  if (typeof requestId !== 'string' || !UUID.test(requestId)) {
    throw new FhirError(
      400,
      'INVALID_VALUE',
      `Invalid value - '${String(requestId).slice(0, 64)}' in header 'X-Request-ID'`,
    );
  }
  // a write's identity for X-Request-ID replay; digested from the parsed body when a service first asks
  if (request.method !== 'GET' && request.method !== 'HEAD' && request.method !== 'OPTIONS')
    request.ctx.fingerprint = fingerprintRequest(request);
}
