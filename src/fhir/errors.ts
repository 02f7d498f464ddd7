import type { OperationOutcome } from 'fhir/r4.js';

/** Spine error code system used by the PDS fixtures (fixtures/pds/4xx/*.json). */
export const SPINE_ERROR_SYSTEM = 'https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode';

/** Spine code -> display text and FHIR issue type, as published by the NHS APIs. */
const SPINE_CODES = {
  ACCESS_DENIED: ['Access has been denied to process this request', 'forbidden'],
  ADDITIONAL_PROPERTIES: ['Additional properties should not be included', 'invariant'],
  FORBIDDEN_UPDATE: ['Update is forbidden', 'forbidden'],
  INVALID_RESOURCE_ID: ['Resource Id is invalid', 'value'],
  INVALID_SEARCH_DATA: ['Search data is invalid', 'value'],
  INVALID_UPDATE: ['Update is invalid', 'structure'],
  INVALID_VALUE: ['Provided value is invalid', 'value'],
  INVALIDATED_RESOURCE: [
    'Resource that has been marked as invalid was requested - invalid resources cannot be retrieved',
    'processing',
  ],
  MISSING_VALUE: ['Required value is missing', 'required'],
  NOT_ACCEPTABLE: ['Requested format is not acceptable', 'not-supported'],
  PRECONDITION_FAILED: ['Required condition was not fulfilled', 'structure'],
  RESOURCE_NOT_FOUND: ['Resource not found', 'not-found'],
  RESOURCE_VERSION_MISMATCH: [
    'Resource version supplied does not match actual version',
    'conflict',
  ],
  SINGLE_MATCH_FOUND: ['Single match found', 'duplicate'],
  MULTIPLE_MATCHES_FOUND: ['Multiple matches found', 'duplicate'],
  SERVICE_UNAVAILABLE: ['Service unavailable - could be temporary', 'transient'],
  TOO_MANY_MATCHES: ['Too Many Matches', 'multiple-matches'],
  TOO_MANY_REQUESTS: ['Too many requests', 'throttled'],
  UNSUPPORTED_MEDIA_TYPE: ['Unsupported media type', 'not-supported'],
  UNSUPPORTED_SERVICE: ['Unsupported Service', 'processing'],
  UNSUPPORTED_VALUE: ['Unsupported value', 'value'],
  TOO_FEW_VALUES_SUBMITTED: ['Too few values submitted', 'value'],
  TOO_MANY_VALUES_SUBMITTED: ['Too many values submitted', 'value'],
  UNSUPPORTED_CHARACTERS_IN_FIELD: ['Unsupported characters in field', 'value'],
  VALIDATION_ERROR: ['A parameter or value has resulted in a validation error', 'invalid'],
  DUPLICATE_REJECTED: ['Create would lead to creation of a duplicate resource', 'duplicate'],
  MESSAGE_TOO_LARGE: ['Request entity too large', 'too-long'],
  METHOD_NOT_ALLOWED: ['Method not allowed', 'not-supported'],
  UNAUTHORISED: ['Access token is missing or invalid', 'login'],
  NO_LEGITIMATE_RELATIONSHIP: ['No legitimate relationship with the patient', 'forbidden'],
  INTERNAL_SERVER_ERROR: ['Unexpected internal server error', 'exception'],
  // Summary Care Record documents (src/services/scr/document-*.ts)
  INVALID_REFERENCE: ['A reference does not resolve within the document', 'invalid'],
  INVALID_CODE: ['A coded value is missing or not from the required code system', 'code-invalid'],
  PATIENT_NOT_FOUND: ['Patient not found', 'not-found'],
  PATIENT_SUPERSEDED: ['Patient NHS Number has been superseded', 'business-rule'],
  AUTHOR_NOT_REGISTERED_PRACTICE: [
    "Author organisation is not the patient's registered GP practice",
    'business-rule',
  ],
  SCR_CONSENT_REQUIRED: ['Express consent is required for additional information', 'forbidden'],
  SCR_DISSENT: ['The patient has dissented from having a Summary Care Record', 'forbidden'],
  NO_SCR: ['The patient has no Summary Care Record', 'not-found'],
  SCR_PERMISSION_REQUIRED: [
    "The patient's permission to view the Summary Care Record has not been recorded",
    'forbidden',
  ],
  SCR_PERMISSION_REFUSED: [
    'The patient refused permission to view the Summary Care Record',
    'forbidden',
  ],
  // Electronic Prescription Service (src/services/eps/)
  INVALID_SIGNATURE: [
    'The prescription signature is missing, malformed or does not verify',
    'invalid',
  ],
  SIGNATURE_DIGEST_MISMATCH: [
    'The prescription content has changed since it was signed',
    'invalid',
  ],
  UNKNOWN_PRESCRIBER_KEY: ['The signing key is not registered to this prescriber', 'security'],
  INVALID_PRESCRIPTION_ID: [
    'The prescription identifier or its check character is invalid',
    'value',
  ],
  PRESCRIPTION_NOT_FOUND: ['Prescription not found', 'not-found'],
  INVALID_STATE_TRANSITION: [
    "The message is not allowed in the prescription's current state",
    'business-rule',
  ],
  // as published in NHSDigital/electronic-prescription-service-api
  // examples/errors/1-Process-Response-Send-400_INVALID_CHECKSUM.json
  FAILURE_TO_PROCESS_MESSAGE: [
    'Unable to process message. Information missing or invalid',
    'processing',
  ],
  PRESCRIPTION_WITH_DISPENSER: [
    'The prescription is with a dispenser and cannot be cancelled',
    'business-rule',
  ],
  PRESCRIPTION_DISPENSED: [
    'The prescription has been dispensed and cannot be cancelled',
    'business-rule',
  ],
  // as published in NHSDigital/electronic-prescription-service-api
  // examples/spec/errors/release/with-another-dispenser-error.json (EPS-IssueCode)
  PRESCRIPTION_WITH_ANOTHER_DISPENSER: ['Prescription is with another dispenser', 'business-rule'],
  // PDS birth registration (src/services/pds/patient-rules.ts); display as published in
  // NHSDigital/personal-demographics-service-api mocks/stubs/errorResponses/INVALID_CREATE.json
  INVALID_CREATE: ['Patient create data is invalid', 'value'],
} as const satisfies Record<string, readonly [string, string]>;

export type SpineCode = keyof typeof SPINE_CODES;

/**
 * Severities other than 'error' and displays that depend on the HTTP status, as NHS England
 * publishes them (personal-demographics-service-api, karate-tests/src/test/java/mocks/stubs/errorResponses/*.json
 * and patients/healthcareWorker/invalidHeaders/invalidHeaders.feature).
 */
const PUBLISHED_SEVERITY: Partial<Record<SpineCode, 'information' | 'warning'>> = {
  RESOURCE_NOT_FOUND: 'information',
  TOO_MANY_MATCHES: 'information',
  FORBIDDEN_UPDATE: 'information',
};
const DISPLAY_BY_STATUS: Partial<Record<SpineCode, Record<number, string>>> = {
  ACCESS_DENIED: { 401: 'Access Denied - Unauthorised' },
};

/**
 * Where a published API answers a refusal with another issue type, severity or display than the
 * Spine code's own (EPS: 'processing', or 'invalid' with severity 'fatal'), the error carries them.
 */
export interface IssueOverride {
  issueCode?: OperationOutcome['issue'][number]['code'];
  severity?: OperationOutcome['issue'][number]['severity'];
  display?: string;
}

/** The one error type services throw; the HTTP error handler turns it into an OperationOutcome. */
export class FhirError extends Error {
  constructor(
    readonly status: number,
    readonly spineCode: SpineCode,
    readonly diagnostics: string,
    readonly headers: Record<string, string> = {},
    readonly issue: IssueOverride = {},
  ) {
    super(`${spineCode}: ${diagnostics}`);
    this.name = 'FhirError';
  }
}

/**
 * A write made against a version that is no longer current (a stale If-Match): the business 409 a
 * service raises itself, answered as the store's own version conflict is (src/fhir/error-mapping.ts).
 */
export function versionMismatch(): FhirError {
  return new FhirError(
    409,
    'RESOURCE_VERSION_MISMATCH',
    'Invalid update with error - This resource has changed since you last read. Please re-read and try again with the new version number.',
  );
}

export function operationOutcome(
  spineCode: SpineCode,
  diagnostics: string,
  severity: 'fatal' | 'error' | 'warning' | 'information' = PUBLISHED_SEVERITY[spineCode] ??
    'error',
  status?: number,
  override: IssueOverride = {},
): OperationOutcome {
  const [codeDisplay, issueCode] = SPINE_CODES[spineCode];
  const display =
    override.display ??
    (status !== undefined ? DISPLAY_BY_STATUS[spineCode]?.[status] : undefined) ??
    codeDisplay;
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: override.severity ?? severity,
        code: override.issueCode ?? (issueCode as OperationOutcome['issue'][number]['code']),
        details: {
          coding: [{ system: SPINE_ERROR_SYSTEM, version: '1', code: spineCode, display }],
        },
        // an empty diagnostics is left out, as in the published bodies that carry none
        ...(diagnostics ? { diagnostics } : {}),
      },
    ],
  };
}
