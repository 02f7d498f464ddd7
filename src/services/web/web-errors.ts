import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { toFhirError } from '../../fhir/error-mapping.js';
import { WEB_BASE } from './paths.js';
import { ApiError, SessionEndedError } from './platform-client.js';
import { renderPage, SignInRequired } from './web-page.js';

/** What a person is told for each kind of refusal: what happened, and what they can do next. */
const TITLES: Record<number, { title: string; advice: string }> = {
  400: {
    title: 'There is a problem with what was entered',
    advice: 'Check the details and try again.',
  },
  401: { title: 'You need to sign in again', advice: 'Your session has ended. Sign in again.' },
  403: {
    title: 'You do not have permission to do this',
    advice:
      'Your role, or your relationship with this patient, does not allow it. Speak to your registration authority if you think it should.',
  },
  404: {
    title: 'Not found',
    advice:
      'Check the number or address you used. It may have been merged, removed or never existed.',
  },
  409: {
    title: 'Someone else has changed this record',
    advice: 'Look at the record as it is now, then make your change again.',
  },
  412: {
    title: 'Someone else has changed this record',
    advice: 'Look at the record as it is now, then make your change again.',
  },
  413: { title: 'What was sent is too large', advice: 'Send less, or in smaller parts.' },
  422: {
    title: 'This cannot be done',
    advice: 'The record is not in a state that allows this.',
  },
  429: {
    title: 'Too many requests',
    advice: 'You have made a lot of requests in a short time. Wait a minute and try again.',
  },
  503: {
    title: 'Sorry, the service is unavailable',
    advice: 'Try again in a few minutes.',
  },
};
const SERVER_FAULT = {
  title: 'Sorry, there is a problem with the service',
  advice: 'Try again later. If it keeps happening, call the service desk and quote the reference.',
};

export interface ErrorDetail {
  status: number;
  /** The Spine error code from the OperationOutcome (e.g. INVALID_RESOURCE_ID), when there is one. */
  code?: string;
  /** What the platform said, in its words. */
  messages: string[];
  /** The X-Request-ID to quote to the service desk. */
  requestId?: string;
}

/** Reads an OperationOutcome's issues into what a person can read. */
export function outcomeMessages(body: any): { code?: string; messages: string[] } {
  const issues: any[] = Array.isArray(body?.issue) ? body.issue : [];
  const messages = issues
    .map((i) => i?.diagnostics ?? i?.details?.text ?? i?.details?.coding?.[0]?.display)
    .filter((m): m is string => typeof m === 'string' && m.length > 0);
  const code = issues[0]?.details?.coding?.[0]?.code;
  return { code: typeof code === 'string' ? code : undefined, messages };
}

/** Renders the NHS error page for a failed API call or a refused request. */
export async function renderErrorPage(
  req: FastifyRequest,
  reply: FastifyReply,
  detail: ErrorDetail,
): Promise<FastifyReply> {
  const known = TITLES[detail.status] ?? (detail.status >= 500 ? SERVER_FAULT : TITLES[400]);
  return renderPage(req, reply, detail.status, 'pages/error.njk', {
    title: known.title,
    advice: known.advice,
    errorCode: detail.code,
    messages: detail.messages,
    requestId: detail.requestId,
    status: detail.status,
  });
}

/** The web application's error handler: every failure is a page a person understands. */
export async function webErrorHandler(
  err: FastifyError,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  if (err instanceof SignInRequired || err instanceof SessionEndedError) {
    return reply.header('cache-control', 'no-store').redirect(`${WEB_BASE}?signed-out=ended`, 303);
  }
  if (err instanceof ApiError) {
    const { code, messages } = outcomeMessages(err.response.body);
    return renderErrorPage(req, reply, {
      status: err.response.status,
      code,
      messages,
      requestId: err.response.requestId,
    });
  }
  if (err.code === 'FST_CSRF_INVALID_TOKEN' || err.code === 'FST_CSRF_MISSING_SECRET') {
    return renderErrorPage(req, reply, {
      status: 403,
      code: 'FORM_EXPIRED',
      messages: [
        'This form has expired or was not sent from this service. Go back, reload the page and try again.',
      ],
    });
  }
  // the platform's one mapping of framework errors (a body its parsers refused, a bad header...)
  const mapped = toFhirError(err);
  const status = mapped.status;
  if (status >= 500) req.log.error({ err }, 'web page failed');
  return renderErrorPage(req, reply, {
    status,
    messages: status >= 500 ? [] : [err.validation ? friendlyValidation(err) : mapped.diagnostics],
    requestId: req.webCorrelationId,
  });
}

function friendlyValidation(err: FastifyError): string {
  const first = err.validation?.[0];
  const field =
    first?.instancePath?.replace(/^\//, '') || String(first?.params?.missingProperty ?? '');
  return field ? `The value of '${field}' is not valid.` : 'The request is not valid.';
}
