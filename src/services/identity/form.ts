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
  if (!contentType || !/^application\/x-www-form-urlencoded\s*(;|$)/i.test(contentType)) return null;
  return body && typeof body === 'object' ? (body as Params) : {};
}
