import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditRecord } from '../audit/audit-record.js';
import type { AuditWriter } from '../audit/audit-writer.js';
import { isAuditedRefusal } from '../audit/audited-refusal.js';
import { isValidNhsNumber } from '../fhir/nhs-number.js';
import { toFhirError } from '../fhir/error-mapping.js';
import { targetPatient } from '../security/access-control.js';

/** The patient the refused request named, where the route says where (a malformed naming counts as none). */
function patientOf(request: FastifyRequest): string | null {
  try {
    const nhs =
      targetPatient(request) ?? (request.params as { nhsNumber?: string } | undefined)?.nhsNumber;
    return nhs && isValidNhsNumber(nhs) ? nhs : null;
  } catch {
    return null;
  }
}

/**
 * Refused and failed attempts on patient-data routes are audited too: who tried (or 'unauthenticated'
 * when the token was refused) what on whom, and the answer they got. Entries go through the group
 * committer, so a flood of refusals costs one transaction per burst, not one per request.
 */
export function registerFailureAudit(app: FastifyInstance, audit: AuditWriter): void {
  app.addHook('onError', async (request, _reply, error) => {
    const activity = request.routeOptions.config.activity;
    if (!activity || !request.ctx || isAuditedRefusal(error)) return;
    const patient = patientOf(request);
    const { status, spineCode } = toFhirError(error);
    const ctx = request.ctx.principal ? request.ctx : { ...request.ctx, principal: undefined };
    const record = auditRecord(
      ctx,
      activity,
      patient,
      `refused ${status} ${spineCode}`,
      undefined,
      { type: status === 401 ? 'security' : 'patient-record' },
    );
    if (!request.ctx.principal) record.userId = 'unauthenticated';
    try {
      await audit.append(record);
    } catch (err) {
      request.log.error({ err }, 'could not audit a refused request');
    }
  });
}
