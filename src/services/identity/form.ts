import { FhirError } from '../../fhir/errors.js';

/**
 * Reading OAuth parameters from a parsed query string or form body. RFC 6749 3.1: a parameter sent
 * more than once makes the request invalid, so a repeated one is reported rather than picked from.
 */
export type Params = Record<string, unknown>;

export class RepeatedParameterError extends Error {
  constructor(readonly parameter: string) {
    super(`parameter '${parameter}' must not be repeated`);
  }
}

/** The parameter's value, undefined when absent or empty. */
export function param(params: Params | undefined, name: string): string | undefined {
  const value = params?.[name];
  if (Array.isArray(value)) throw new RepeatedParameterError(name);
  if (typeof value !== 'string' || value === '') return undefined;
  return value;
}

/** The body as form parameters, or null when it is not a parsed form (wrong or missing Content-Type). */
export function formBody(contentType: string | undefined, body: unknown): Params | null {
  if (!contentType || !/^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType))
    return null;
  return body && typeof body === 'object' ? (body as Params) : {};
}

/**
 * The /oauth2 scope's form parser (for @fastify/formbody). A body whose percent-encoding is
 * malformed, or encodes bytes that are not UTF-8, is refused rather than read leniently (the
 * default parser kept '%E0%A4%A' as it was): the endpoints answer it invalid_request. A parameter
 * sent more than once becomes an array, which param() reports. Nesting is impossible (keys are flat
 * strings) and the count of parameters is bounded by the scope's 64 KiB body limit.
 */
export function parseForm(body: string): Params {
  try {
    decodeURIComponent(body.replace(/\+/g, ' '));
  } catch {
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'Request body is not a valid form: malformed percent-encoding',
    );
  }
  const params: Record<string, string | string[]> = Object.create(null);
  for (const [name, value] of new URLSearchParams(body)) {
    const previous = params[name];
    if (previous === undefined) params[name] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else params[name] = [previous, value];
  }
  return params;
}
