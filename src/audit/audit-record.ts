import type { RequestContext } from '../http/request-context.js';
import type { AuditRecord } from '../store/types.js';

/** Builds the audit fact for one touch of patient data by the caller in `ctx`. */
export function auditRecord(
  ctx: RequestContext,
  action: string,
  patient: string | null,
  outcome: string,
  detail?: Record<string, unknown>,
): AuditRecord {
  const p = ctx.principal;
  return {
    time: new Date().toISOString(),
    requestId: ctx.requestId,
    correlationId: ctx.correlationId,
    userId: p?.userId ?? 'anonymous',
    role: p?.role ?? '',
    org: p?.org ?? '',
    patient,
    action,
    outcome,
    detail,
  };
}
