import type { RequestContext } from '../context.js';
import type { AuditRecord } from './types.js';

export interface AuditOptions {
  type?: string;
  purpose?: string;
}

/** Builds the audit fact for one touch of patient data by the caller in `ctx`. */
export function auditRecord(
  ctx: RequestContext,
  action: string,
  patient: string | null,
  outcome: string,
  detail?: Record<string, unknown>,
  options: AuditOptions = {},
): AuditRecord {
  const p = ctx.principal;
  const record: AuditRecord = {
    time: new Date().toISOString(),
    requestId: ctx.requestId,
    correlationId: ctx.correlationId,
    userId: p?.userId ?? 'anonymous',
    userName: p?.name,
    actorKind: p?.kind,
    role: p?.role ?? '',
    org: p?.org ?? '',
    patient,
    action,
    outcome,
    purpose: options.purpose ?? ctx.purpose ?? 'direct-care',
    type: options.type ?? 'patient-record',
    detail,
  };
  // only when tracing is on: entries written without it keep exactly their former shape
  if (ctx.traceId) record.traceId = ctx.traceId;
  return record;
}
