import { auditRecord } from '../../audit/audit-record.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import type { RequestContext } from '../../context.js';
import type { DeadLetter } from '../../messaging/types.js';
import type { AuditRecord } from '../../audit/types.js';

/**
 * Audit of a look at (or a replay of) dead letters: their bodies can carry patient data, so each
 * patient whose messages were shown (the key, when it is an NHS Number) gets an entry; otherwise one
 * security entry. `userId` overrides the caller (the CLI names its operator).
 */
export function deadLetterAudit(
  ctx: RequestContext,
  action: string,
  letters: DeadLetter[],
  detail: Record<string, unknown>,
  userId?: string,
): AuditRecord[] {
  const patients = [
    ...new Set(letters.map((l) => l.message.key).filter((k) => isValidNhsNumber(k))),
  ];
  const records =
    patients.length === 0
      ? [auditRecord(ctx, action, null, 'success', detail, { type: 'security' })]
      : patients.map((nhs) => auditRecord(ctx, action, nhs, 'success', detail));
  if (userId) for (const r of records) r.userId = userId;
  return records;
}
