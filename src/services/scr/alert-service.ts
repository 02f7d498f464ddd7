/**
 * Raising a privacy alert (POST /AuditEvent): the use case behind the route. The alert goes into the
 * platform's audit trail against the patient (the surviving record when the number was merged), with
 * the published type and reason; a retry with the same X-Request-ID records nothing more.
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { writeOnce } from '../write-once.js';
import type { ScrAlert } from './alert-routes.js';
import { resolvePatient } from './consent-patient.js';

/** What the request log names for an alert, which stores no resource of its own. */
const ALERT_RECORD = 'ScrAlert';

export async function raiseAlert(
  repo: ResourceStore,
  ctx: RequestContext,
  alert: ScrAlert,
): Promise<void> {
  // a retry, or a twin that recorded it first: nothing more to record
  await writeOnce<void>(repo, ctx, {
    storesNoResource: true,
    asBefore: () => undefined,
    write: async ({ record }) => {
      const nhs = await resolvePatient(repo, alert.nhsNumber);
      const detail = {
        // the one detail a patient's own view shows: the published reason, from its fixed table
        reasonCode: alert.reason.display,
        alertType: `${alert.type.code} ${alert.type.display}`,
        alertReason: `${alert.reason.code} ${alert.reason.display}`,
        statedOrganisation: alert.organisation,
        statedUser: alert.user,
        statedRole: alert.role,
        message: alert.message,
        description: alert.description,
        statedRecorded: alert.recorded,
        entity: alert.entity,
        accessBasis: ctx.accessBasis,
        ...(nhs !== alert.nhsNumber ? { requested: alert.nhsNumber } : {}),
      };
      await repo.commit({
        audit: [
          auditRecord(ctx, 'scr.view.alert', nhs, 'alert-raised', detail, {
            type: 'privacy-alert',
          }),
        ],
        request: record({
          status: 201,
          resourceType: ALERT_RECORD,
          resourceId: ctx.requestId,
          version: 1,
        }),
      });
    },
  });
}
