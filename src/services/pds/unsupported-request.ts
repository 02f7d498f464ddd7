import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FhirError } from '../../fhir/errors.js';
import { sendError } from '../../http/fhir-conventions.js';

/** Paths PDS serves (by some method), relative to the API base. */
const KNOWN_PATH = /^\/(metadata|Patient|Patient\/\$merge|Patient\/[^/]+|Patient\/[^/]+\/(RelatedPerson|_history)|Coverage|Coverage\/[^/]+)$/;

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

/**
 * A body of a content type PDS does not take is 400 UNSUPPORTED_SERVICE, as published with no
 * diagnostics (karate-tests healthcareWorker/updatePatientDetails/requestErrors.feature, "Invalid
 * content-type header": application/bananas). Registered in the PDS plugin only: the JSON types the
 * platform parses (src/http/fhir-conventions.ts) are untouched, and other APIs keep 415.
 */
export function refuseUnsupportedContentTypes(app: FastifyInstance): void {
  app.addContentTypeParser('*', (_request, _payload, done) => done(new FhirError(400, 'UNSUPPORTED_SERVICE', ''), undefined));
}
