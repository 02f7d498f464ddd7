/**
 * The e-Referral Service's refusals in its published STU3 shape: an eRS-OperationOutcome-1 whose
 * issue names an eRS-APIErrorCode-1 code (NHSDigital/e-referrals-service-api,
 * sandbox/src/mocks/stu3/STU3-OperationOutcome.json and the live proxy's
 * AssignMessage.OperationOutcomeErrorResponse.xml). Refusals raised by the platform (a token, a
 * role, an unknown patient from PDS's port) keep the platform's own shape.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { FhirError, type SpineCode } from '../../fhir/errors.js';
import { FHIR_JSON } from '../../fhir/media-types.js';

export const ERS_OUTCOME_PROFILE =
  'https://fhir.nhs.uk/STU3/StructureDefinition/eRS-OperationOutcome-1';
export const ERS_ERROR_SYSTEM = 'https://fhir.nhs.uk/STU3/CodeSystem/eRS-APIErrorCode-1';

/** The platform's nearest code, for the failure audit and anything else reading a FhirError. */
const SPINE_BY_STATUS: Record<number, SpineCode> = {
  400: 'INVALID_VALUE',
  403: 'ACCESS_DENIED',
  404: 'RESOURCE_NOT_FOUND',
  409: 'RESOURCE_VERSION_MISMATCH',
  412: 'PRECONDITION_FAILED',
  422: 'VALIDATION_ERROR',
  503: 'SERVICE_UNAVAILABLE',
};

/** A refusal in eRS's words: HTTP status, FHIR issue type, eRS error code, diagnostics. */
export class ErsError extends FhirError {
  constructor(
    status: number,
    readonly issueCode: string,
    readonly ersCode: string,
    diagnostics: string,
  ) {
    super(status, SPINE_BY_STATUS[status] ?? 'INVALID_VALUE', diagnostics);
    this.name = 'ErsError';
  }
}

export const ersError = (status: number, issueCode: string, ersCode: string, diagnostics: string) =>
  new ErsError(status, issueCode, ersCode, diagnostics);

export function ersOutcome(err: ErsError) {
  return {
    resourceType: 'OperationOutcome',
    meta: { lastUpdated: new Date().toISOString(), profile: [ERS_OUTCOME_PROFILE] },
    issue: [
      {
        severity: 'error',
        code: err.issueCode,
        details: { coding: [{ system: ERS_ERROR_SYSTEM, code: err.ersCode }] },
        diagnostics: err.diagnostics,
      },
    ],
  };
}

function sendErs(reply: FastifyReply, err: ErsError): FastifyReply {
  return reply.code(err.status).type(FHIR_JSON).send(ersOutcome(err));
}

/** In the calling route table's scope: eRS refusals in eRS's shape, anything else to the platform. */
export function useErsErrors(app: FastifyInstance): void {
  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof ErsError) return sendErs(reply, err);
    throw err;
  });
}
