/**
 * The PATCH use case: a JSON Patch applied to the record at the version the caller read, committed
 * with its audit entry, events and the values it replaced (still findable by a `_history=true`
 * search). The patch itself is patient-patch.ts's business; this is the record's lifecycle around it.
 */
import type { RequestContext } from '../../context.js';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError, versionMismatch } from '../../fhir/errors.js';
import { writeOnce } from '../write-once.js';
import {
  answerAsBefore,
  checkNhsNumber,
  type PatientWriteDeps,
  type VersionedPatient,
} from './patient-answers.js';
import { updateEvents } from './patient-events.js';
import { indexPatient } from './patient-index.js';
import { isInvalidated, PATIENT, replacedBy } from './patient-model.js';
import { applyPatientPatch, parsePatchBody } from './patient-patch.js';
import { inShownOrder, patientForRead } from './patient-views.js';
import { supersededIndexRows } from './trace.js';

export async function patchPatient(
  { repo, audit }: PatientWriteDeps,
  ctx: RequestContext,
  nhs: string,
  expectedVersion: number,
  body: unknown,
): Promise<VersionedPatient> {
  const ops = parsePatchBody(body);
  checkNhsNumber(nhs);
  return writeOnce(repo, ctx, {
    answers: PATIENT,
    asBefore: (earlier) => answerAsBefore(audit, ctx, 'pds.update', earlier),
    write: async ({ record }) => {
      const stored = await repo.read(PATIENT, nhs);
      // no diagnostics, as published (requestErrors.feature "Patient not found",
      // mocks/stubs/errorResponses/RESOURCE_NOT_FOUND.json)
      if (!stored) throw new FhirError(404, 'RESOURCE_NOT_FOUND', '');
      if (isInvalidated(stored.resource)) throw new FhirError(404, 'INVALIDATED_RESOURCE', '');
      const survivor = replacedBy(stored.resource);
      if (survivor)
        throw new FhirError(
          400,
          'INVALID_UPDATE',
          `Invalid update with error - NHS Number '${nhs}' has been superseded by '${survivor}'; update that record`,
        );
      // the version may have moved because a twin of this very request has just committed: answered as it was
      if (stored.version !== expectedVersion) throw versionMismatch();
      // indices in the patch are those of the record as the caller read it (views.ts puts home first)
      const patched = applyPatientPatch(inShownOrder(stored.resource), ops, {
        patientAccess: ctx.principal?.kind === 'patient',
      });
      // values a PATCH replaces leave the document but stay findable by a `_history=true` search
      const earlier = (await repo.history(PATIENT, nhs)).map((v) => v.resource);
      const index = [...indexPatient(patched), ...supersededIndexRows(earlier, patched)];
      const [saved] = await repo.commit({
        resources: [{ type: PATIENT, id: nhs, expectedVersion, resource: patched, index }],
        audit: [
          auditRecord(ctx, 'pds.update', nhs, 'success', {
            paths: ops.map((o) => `${o.op} ${o.path}`),
          }),
        ],
        messages: updateEvents(
          stored.resource,
          patched,
          expectedVersion + 1,
          new Date().toISOString(),
        ),
        request: record({
          status: 200,
          resourceType: PATIENT,
          resourceId: nhs,
          version: expectedVersion + 1,
        }),
      });
      return { patient: patientForRead(saved.resource), version: saved.version };
    },
  });
}
