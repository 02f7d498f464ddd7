import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FhirError } from '../../fhir/errors.js';
import { sendError } from '../../fhir/error-mapping.js';

/** Paths PDS serves (by some method), relative to the API base. */
const KNOWN_PATH =
  /^\/(metadata|Patient|Patient\/\$merge|Patient\/[^/]+|Patient\/[^/]+\/(RelatedPerson|_history)|Coverage|Coverage\/[^/]+)$/;

/**
 * How PDS answers a request no route takes (karate-tests patients/requestErrors.feature): an
 * unknown path is 400 "Unsupported path - '/HelloWorld'"; a known path with a method it does not
 * take (PUT on a Patient) is 400 UNSUPPORTED_SERVICE, as published with no diagnostics
 * (mocks/stubs/errorResponses/UNSUPPORTED_SERVICE.json). The path is shown relative to the API base.
 */
export function pdsUnsupportedRequest(base: string) {
  return (request: FastifyRequest, reply: FastifyReply) => {
    const full = request.url.split('?')[0];
    let path = full.startsWith(base) ? full.slice(base.length) : full;
    try {
      path = decodeURIComponent(path);
    } catch {
      // left encoded: it is only echoed
    }
    path = path.slice(0, 200);
    const error = KNOWN_PATH.test(path)
      ? new FhirError(400, 'UNSUPPORTED_SERVICE', '')
      : new FhirError(400, 'UNSUPPORTED_SERVICE', `Unsupported path - '${path}'`);
    sendError(reply, error);
  };
}

/** A Content-Type Fastify can read (RFC 9110 type/subtype of token characters, then any parameters). */
const MEDIA_TYPE = /^\s*[\w!#$%&'*+.^`|~-]+\/[\w!#$%&'*+.^`|~-]+\s*$/;
/** Methods Fastify reads no body for (and so never looks at their Content-Type). */
const BODYLESS = new Set(['GET', 'HEAD', 'TRACE']);

/**
 * A body of a content type PDS does not take is 400 UNSUPPORTED_SERVICE, as published with no
 * diagnostics (karate-tests healthcareWorker/updatePatientDetails/requestErrors.feature, "Invalid
 * content-type header": application/bananas). Registered in each plugin mounted under the PDS base
 * (Patient, Coverage, $process-birth-details), so it holds in their scopes only: the JSON types the
 * platform parses (src/http/fhir-conventions.ts) are untouched, and other APIs keep 415.
 *
 * Three ways in: a type no parser takes reaches the catch-all parser; text/plain, which Fastify
 * parses by default, is taken out of these scopes so it does too; a Content-Type that is not a
 * media type at all ('bananas', ';;'), which Fastify refuses 415 before any parser, is refused here
 * first, after the platform's own onRequest/preParsing hooks (a refused token is still 401).
 */
export function refuseUnsupportedContentTypes(app: FastifyInstance): void {
  const unsupported = () => new FhirError(400, 'UNSUPPORTED_SERVICE', '');
  app.removeContentTypeParser('text/plain');
  app.addContentTypeParser('*', (_request, _payload, done) => done(unsupported(), undefined));
  app.addHook('preParsing', (request, _reply, payload, done) => {
    const header = request.headers['content-type'];
    if (
      header !== undefined &&
      !BODYLESS.has(request.method) &&
      !MEDIA_TYPE.test(header.split(';')[0])
    )
      return done(unsupported());
    done(null, payload);
  });
}
