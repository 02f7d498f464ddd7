import type { FastifyInstance } from 'fastify';
import { auditRecord } from '../audit/audit-record.js';
import { isValidNhsNumber } from '../fhir/nhs-number.js';
import type { Repository } from '../store/types.js';
import { toFhirError } from './fhir-conventions.js';

/**
 * Refused and failed attempts on patient-data routes are audited too, once the caller is known:
 * who tried what on whom, and the answer they got.
 */
export function registerFailureAudit(app: FastifyInstance, repo: Repository): void {
  app.addHook('onError', async (request, _reply, error) => {
    const activity = request.routeOptions.config.activity;
    if (!activity || !request.ctx?.principal) return;
    const nhs = (request.params as { nhsNumber?: string } | undefined)?.nhsNumber;
    const patient = nhs && isValidNhsNumber(nhs) ? nhs : null;
    const { status, spineCode } = toFhirError(error);
    try {
      await repo.commit({ audit: [auditRecord(request.ctx, activity, patient, `refused ${status} ${spineCode}`)] });
    } catch (err) {
      request.log.error({ err }, 'could not audit a refused request');
    }
  });
}
