import type { FastifyRequest } from 'fastify';

/**
 * Some requests name their patient only through what they are about (an EPS short-form ID in a
 * Parameters body, a query for the tracker; an e-RS patient route, whose patient is the caller), so
 * the platform cannot read the patient off the request. A route's preValidation hook finds the
 * patient and attaches it here; the route's `patientFrom: { body: subjectOfBody }` then hands it
 * to the platform's access check (patients only themselves, staff a legitimate relationship),
 * which runs after preValidation.
 */
const subjects = new WeakMap<object, { nhsNumber: string; record?: Record<string, any> }>();

/** Names the request's patient for the access check, with the record when the route has read it. */
export function setSubject(
  req: FastifyRequest,
  nhsNumber: string,
  record?: Record<string, any>,
): void {
  // a GET has no body: give it an empty one to carry the subject (nothing else reads it)
  if (!req.body || typeof req.body !== 'object') req.body = {};
  subjects.set(req.body as object, { nhsNumber, record });
}

const subjectOf = (body: unknown) =>
  body && typeof body === 'object' ? subjects.get(body) : undefined;

/** The patient record setSubject attached, handed to the relationship check as an argument. */
export function recordOfBody(body: unknown): Record<string, any> | undefined {
  return subjectOf(body)?.record;
}

export function subjectOfBody(body: unknown): string | undefined {
  return subjectOf(body)?.nhsNumber;
}
