/**
 * The prescription tracker's use case: the prescriptions a tracker query found (one prescription's
 * issues, or a patient's), newest first, with the read audited against the patient. The route
 * (tracker-routes.ts) checks the query and the caller and makes this one call.
 */
import { auditRecord } from '../../audit/audit-record.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { PRESCRIPTION, type EpsPrescription } from './prescription-model.js';

/** More prescriptions than one page shows for a patient; the newest come first. */
const MAX_PATIENT_ISSUES = 200;

/** `hit` is a patient's NHS Number, or the issues of the prescription the query named. */
export async function trackPrescriptions(
  repo: ResourceStore,
  ctx: RequestContext,
  hit: string | EpsPrescription[],
): Promise<EpsPrescription[]> {
  let issues: EpsPrescription[];
  if (typeof hit === 'string') {
    const ids = await repo.search({
      type: PRESCRIPTION,
      criteria: [{ any: [{ param: 'patient', op: 'eq', value: hit }] }],
      limit: MAX_PATIENT_ISSUES,
    });
    issues = (await repo.readMany(PRESCRIPTION, ids))
      .map((s) => s.resource)
      .sort((a, b) => b.created.localeCompare(a.created) || a.issue.number - b.issue.number);
  } else issues = hit;
  const nhs = typeof hit === 'string' ? hit : hit[0].nhsNumber;
  await repo.commit({
    audit: [
      auditRecord(ctx, 'eps.tracker.read', nhs, 'success', {
        prescriptions: [...new Set(issues.map((p) => p.shortFormId))].slice(0, 50),
      }),
    ],
  });
  return issues;
}
