/**
 * The e-Referral Service's R4 refusals in their published shape: an NHSDigital-OperationOutcome
 * (NHSDigital/e-referrals-service-api specification/components/r4/schemas/NHSDigital-OperationOutcome.yaml,
 * sandbox/src/mocks/r4/NHSDigital-OperationOutcome-{400,403,404}.json). The service's own refusals
 * name an http-error-codes code (REC_BAD_REQUEST, REC_FORBIDDEN, REC_NOT_FOUND); the header
 * refusals are worded as the live proxy words them on an R4 path
 * (AssignMessage.SetOperationOutcomeVariablesR4.xml: profile, NHSD-API-ErrorOrWarningCode system,
 * ACCESS_DENIED; ...ODSHeaderMissingR4.xml: MISSING_HEADER).
 */
import type { FastifyInstance } from 'fastify';
import { FhirError, type SpineCode } from '../../fhir/errors.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import { ErsError } from './ers-errors.js';

export const HTTP_ERROR_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/http-error-codes';
export const APIM_ERROR_SYSTEM = 'https://fhir.nhs.uk/CodeSystem/NHSD-API-ErrorOrWarningCode';
/** The profile the proxy's R4 refusals name. */
export const R4_PROXY_PROFILE = 'https://www.hl7.org/fhir/R4/operationoutcome.html';

const SPINE_BY_STATUS: Record<number, SpineCode> = {
  400: 'INVALID_VALUE',
  403: 'ACCESS_DENIED',
  404: 'RESOURCE_NOT_FOUND',
};

/** An R4 refusal: status, FHIR issue type, coding (system and code), diagnostics. */
export class R4Error extends FhirError {
  constructor(
    status: number,
    readonly issueCode: string,
    readonly system: string,
    readonly code: string,
    diagnostics: string,
    /** Set on the refusals the proxy words (they carry its profile). */
    readonly profile?: string,
  ) {
    super(status, SPINE_BY_STATUS[status] ?? 'INVALID_VALUE', diagnostics);
    this.name = 'R4Error';
  }
}

export const badRequest = (diagnostics: string) =>
  new R4Error(400, 'invalid', HTTP_ERROR_SYSTEM, 'REC_BAD_REQUEST', diagnostics);
export const notFound = (diagnostics: string) =>
  new R4Error(404, 'not-found', HTTP_ERROR_SYSTEM, 'REC_NOT_FOUND', diagnostics);
export const forbidden = (diagnostics: string) =>
  new R4Error(403, 'forbidden', HTTP_ERROR_SYSTEM, 'REC_FORBIDDEN', diagnostics);

/**
 * The shared header check (parseErsCaller) refuses in STU3 words; on an R4 path the proxy answers
 * the same faults with the NHSD-API-ErrorOrWarningCode system: MISSING_HEADER stays, NO_ACCESS is
 * ACCESS_DENIED. Anything else the STU3 code says maps by status.
 */
export function fromErsError(err: ErsError): R4Error {
  if (err.ersCode === 'MISSING_HEADER' || err.ersCode === 'NO_ACCESS')
    return new R4Error(
      err.status,
      err.issueCode,
      APIM_ERROR_SYSTEM,
      err.ersCode === 'NO_ACCESS' ? 'ACCESS_DENIED' : 'MISSING_HEADER',
      err.diagnostics,
      R4_PROXY_PROFILE,
    );
  if (err.status === 404) return notFound(err.diagnostics);
  if (err.status === 403) return forbidden(err.diagnostics);
  return new R4Error(err.status, 'invalid', HTTP_ERROR_SYSTEM, 'REC_BAD_REQUEST', err.diagnostics);
}

export function r4Outcome(err: R4Error) {
  return {
    resourceType: 'OperationOutcome',
    meta: {
      lastUpdated: new Date().toISOString(),
      ...(err.profile ? { profile: [err.profile] } : {}),
    },
    issue: [
      {
        severity: 'error',
        code: err.issueCode,
        details: { coding: [{ system: err.system, code: err.code }] },
        diagnostics: err.diagnostics,
      },
    ],
  };
}

/** In the calling route table's scope: R4 refusals (and the shared STU3 header refusals) in R4 words. */
export function useR4Errors(app: FastifyInstance): void {
  app.setErrorHandler((err, _request, reply) => {
    const r4 = err instanceof R4Error ? err : err instanceof ErsError ? fromErsError(err) : null;
    if (!r4) throw err;
    return reply.code(r4.status).type(FHIR_JSON).send(r4Outcome(r4));
  });
}
