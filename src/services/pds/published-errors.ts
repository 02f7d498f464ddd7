import type { OperationOutcome } from 'fhir/r4.js';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FhirError, SPINE_ERROR_SYSTEM, type SpineCode } from '../../fhir/errors.js';
import { FHIR_JSON } from '../../fhir/media-types.js';
import { RoleSelectionError } from '../../security/role-selection.js';
import { InsufficientPatientAssurance } from '../../security/token-verifier.js';

/**
 * OperationOutcomes exactly as NHS England publishes them for the PDS operations added after the
 * first release (Coverage, $process-birth-details): some carry a display, issue code or severity of
 * their own (an ACCESS_DENIED display that names the kind of token, a SINGLE_MATCH code, a
 * RESOURCE_NOT_FOUND with severity 'information' and no diagnostics). The shared SpineCode table
 * (src/fhir/errors.ts) keeps one display per code, so these routes answer through a PublishedError
 * and a scoped error handler; any other error goes on to the platform's handler unchanged.
 */
export interface PublishedIssue {
  code: string;
  display: string;
  issueCode: OperationOutcome['issue'][number]['code'];
  severity?: 'error' | 'information';
  diagnostics?: string;
}

export function publishedOutcome(issue: PublishedIssue): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: issue.severity ?? 'error',
        code: issue.issueCode,
        details: {
          coding: [
            { system: SPINE_ERROR_SYSTEM, version: '1', code: issue.code, display: issue.display },
          ],
        },
        ...(issue.diagnostics === undefined ? {} : { diagnostics: issue.diagnostics }),
      },
    ],
  };
}

/**
 * An error answered with a published OperationOutcome. It is a FhirError, so the platform's refusal
 * audit and replay logic see its status and nearest shared code (`auditCode`).
 */
export class PublishedError extends FhirError {
  constructor(
    status: number,
    auditCode: SpineCode,
    readonly issue: PublishedIssue,
    headers: Record<string, string> = {},
  ) {
    super(status, auditCode, issue.diagnostics ?? issue.display, headers);
  }
}

/** Published shapes of errors the shared layers raise with OpenSpine's own wording. */
export const PUBLISHED = {
  resourceNotFound: (): PublishedIssue => ({
    code: 'RESOURCE_NOT_FOUND',
    display: 'Resource not found',
    issueCode: 'not-found',
    severity: 'information',
  }),
  versionMismatch: (): PublishedIssue => ({
    code: 'RESOURCE_VERSION_MISMATCH',
    display: 'Resource version supplied does not match actual version',
    issueCode: 'conflict',
  }),
  forbiddenUpdate: (diagnostics: string): PublishedIssue => ({
    code: 'FORBIDDEN_UPDATE',
    display: 'Update is forbidden',
    issueCode: 'forbidden',
    severity: 'information',
    diagnostics,
  }),
};

const PATIENT_ACCESS_DENIED =
  'Your access token has insufficient permissions. See documentation regarding Patient access restrictions https://digital.nhs.uk/developer/api-catalogue/personal-demographics-service-fhir';

/**
 * The published 401 for a refused token. The token verifier already words the published cases as the
 * gateway does (missing or empty header, missing or invalid token); other reasons (expired, revoked, an
 * application not registered for the interaction) keep the verifier's words.
 */
function unauthorised(err: FhirError): PublishedIssue {
  return {
    code: 'ACCESS_DENIED',
    display: 'Access Denied - Unauthorised',
    issueCode: 'forbidden',
    diagnostics: err.diagnostics,
  };
}

/**
 * The access mode of the caller's token, in the words PDS uses in its refusals ('{access-mode}' in
 * the gateway's templates).
 */
export type AccessModeName =
  | 'patient-access'
  | 'user-restricted'
  | 'application-restricted'
  | 'privileged-application-restricted';

export function tokenKind(request: FastifyRequest): AccessModeName | undefined {
  const principal = request.ctx?.principal;
  if (!principal) return undefined;
  if (principal.kind === 'application') return principal.accessMode ?? 'application-restricted';
  return principal.kind === 'patient' ? 'patient-access' : 'user-restricted';
}

/** Either application-restricted access mode: no user present. */
export const isApplicationMode = (kind: AccessModeName | undefined): boolean =>
  kind === 'application-restricted' || kind === 'privileged-application-restricted';

/**
 * A write the caller's access mode may not make, as PDS's API gateway refuses it
 * (proxies/live/apiproxy/policies/RaiseFault.PostMethodNotAllowed.xml, PatchMethodNotAllowedAppRestricted.xml):
 * either application-restricted mode may neither create (POST) nor update (PATCH), patient access may
 * not create. Undefined for any other refusal.
 */
export function methodRefusal(
  request: FastifyRequest,
  err: FhirError,
): { status: number; issue: PublishedIssue } | undefined {
  const kind = tokenKind(request);
  const verb =
    request.method === 'POST' ? 'create' : request.method === 'PATCH' ? 'update' : undefined;
  if (
    !kind ||
    !verb ||
    !(isApplicationMode(kind) || (kind === 'patient-access' && verb === 'create'))
  )
    return undefined;
  return {
    status: 403,
    issue: {
      code: 'INVALID_METHOD',
      issueCode: 'forbidden',
      display: `Cannot ${verb} resource with ${kind} access token`,
      diagnostics: refusalDiagnostics(
        'Your app has insufficient permissions to use this method. Please contact support.',
        err,
      ),
    },
  };
}

/** PDS's words for a NHSD-Session-URID naming no role profile of the user (the gateway's user-role error). */
function roleSelection(err: RoleSelectionError): PublishedIssue {
  return {
    code: 'INVALID_VALUE',
    display: 'Provided value is invalid',
    issueCode: 'value',
    diagnostics: `${err.diagnostics}. Refer to the guidance for this header in our API Specification https://digital.nhs.uk/developer/api-catalogue/personal-demographics-service-fhir`,
  };
}

export function sendPublished(
  reply: FastifyReply,
  status: number,
  issue: PublishedIssue,
  headers: Record<string, string> = {},
): FastifyReply {
  for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return reply.code(status).type(FHIR_JSON).send(publishedOutcome(issue));
}

/**
 * Installs, in the calling plugin's scope only, the error handler that answers with published shapes:
 * a PublishedError as it is; a refused token (401) as the gateway words it; a refused role or patient
 * (403 ACCESS_DENIED) as `forbidden` says for this request, or as PDS answers a patient reaching
 * another patient's record. Anything else is rethrown to the platform's handler.
 */
export function usePublishedErrors(
  app: FastifyInstance,
  forbidden: (
    request: FastifyRequest,
    err: FhirError,
  ) => { status: number; issue: PublishedIssue } | undefined,
): void {
  app.setErrorHandler((err: FastifyError | FhirError, request, reply) => {
    if (err instanceof PublishedError)
      return sendPublished(reply, err.status, err.issue, err.headers);
    if (err instanceof RoleSelectionError) return sendPublished(reply, 400, roleSelection(err));
    if (err instanceof FhirError && err.spineCode === 'ACCESS_DENIED') {
      // a patient token below identity proofing level P9 is a valid token PDS will not act on
      if (err instanceof InsufficientPatientAssurance) {
        return sendPublished(reply, 403, {
          code: 'ACCESS_DENIED',
          display: 'Patient cannot perform this action',
          issueCode: 'forbidden',
          diagnostics: PATIENT_ACCESS_DENIED,
        });
      }
      if (err.status === 401) return sendPublished(reply, 401, unauthorised(err), err.headers);
      if (err.status === 403) {
        const mapped = forbidden(request, err);
        if (mapped) return sendPublished(reply, mapped.status, mapped.issue);
        if (request.ctx?.principal?.kind === 'patient') {
          return sendPublished(reply, 403, {
            code: 'ACCESS_DENIED',
            display: 'Patient cannot perform this action',
            issueCode: 'forbidden',
            diagnostics: PATIENT_ACCESS_DENIED,
          });
        }
      }
    }
    throw err;
  });
}

export { PATIENT_ACCESS_DENIED };

/**
 * The diagnostics of a refusal by role or scope: PDS's published sentence, then OpenSpine's reason
 * naming the activity refused. The platform's route x role matrix (test/route-role-matrix.test.ts)
 * recognises a policy refusal by that reason, so it is kept; PDS's own diagnostics end at the sentence.
 */
export function refusalDiagnostics(published: string, err: FhirError): string {
  return `${published} (${err.diagnostics})`;
}
