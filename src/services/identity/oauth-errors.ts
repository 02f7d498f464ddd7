import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { formBody, RepeatedParameterError, type Params } from './form.js';
import { errorPage, sendHtml } from './html.js';
import { toFhirError } from '../../fhir/error-mapping.js';

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'invalid_token';

/**
 * An error answered as OAuth JSON (RFC 6749 section 5.2), not as an OperationOutcome: OAuth clients
 * expect this shape.
 */
export class OAuthError extends Error {
  constructor(
    readonly status: 400 | 401,
    readonly error: OAuthErrorCode,
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
    this.name = 'OAuthError';
  }
}

/** An error on a sign-in page, answered as an HTML page (never a redirect: the redirect target is not trusted). */
export class PageError extends Error {
  constructor(
    readonly status: number,
    readonly title: string,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'PageError';
  }
}

export function sendOAuthError(reply: FastifyReply, err: OAuthError): FastifyReply {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  // RFC 6749 5.2: a failed client authentication through the Authorization header gets a challenge
  if (err.status === 401)
    reply.header(
      'www-authenticate',
      err.error === 'invalid_token' ? 'Bearer error="invalid_token"' : 'Basic realm="openspine"',
    );
  // RFC 6749 5.2: error_description is printable ASCII without a double quote or a backslash
  const description = err.description.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '?');
  return reply
    .code(err.status)
    .type('application/json; charset=utf-8')
    .send({ error: err.error, error_description: description });
}

/**
 * The error handler of the /oauth2 scope: OAuth JSON for the token endpoints, an HTML page for the
 * browser-facing ones. A request the platform refuses as malformed, whichever parser or check
 * refused it (a JSON body of any shape, a bad form encoding, a body over the limit), is the
 * caller's fault: invalid_request (400). Anything else is a logged 500 with no detail.
 */
export function registerOAuthErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | Error, request, reply) => {
    if (err instanceof OAuthError) return sendOAuthError(reply, err);
    if (err instanceof PageError)
      return sendHtml(reply, err.status, errorPage(err.title, err.detail));
    const html =
      request.url.startsWith('/oauth2/authorize') || request.url.startsWith('/oauth2/dev-callback');
    if (err instanceof RepeatedParameterError) {
      return html
        ? sendHtml(reply, 400, errorPage('Sign-in request is not valid', err.message))
        : sendOAuthError(reply, new OAuthError(400, 'invalid_request', err.message));
    }
    // the platform's own classification: parser refusals carry a status (FhirError) or a Fastify code
    const refusal = toFhirError(err);
    const clientFault = refusal.status < 500;
    if (!clientFault) request.log.error({ err }, 'sign-in request failed');
    if (html) {
      return sendHtml(
        reply,
        clientFault ? refusal.status : 500,
        errorPage(
          'Sign-in problem',
          clientFault
            ? 'The request could not be read.'
            : 'Something went wrong; please try again.',
        ),
      );
    }
    if (clientFault)
      return sendOAuthError(
        reply,
        new OAuthError(
          400,
          'invalid_request',
          refusal.status === 415
            ? 'use Content-Type application/x-www-form-urlencoded'
            : `the request could not be read: ${refusal.diagnostics}`,
        ),
      );
    return reply
      .code(500)
      .header('cache-control', 'no-store')
      .type('application/json; charset=utf-8')
      .send({ error: 'server_error', error_description: 'unexpected error' });
  });
}

/** The form parameters of an OAuth endpoint's request, or invalid_request when it is not a form. */
export function oauthForm(request: FastifyRequest): Params {
  const body = formBody(request.headers['content-type'], request.body);
  if (!body)
    throw new OAuthError(
      400,
      'invalid_request',
      'Content-Type must be application/x-www-form-urlencoded',
    );
  return body;
}
