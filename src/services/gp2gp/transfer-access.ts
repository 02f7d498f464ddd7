/**
 * Who may touch a transfer, and the audit of refusals: only the two practices of a transfer may see
 * it, and every refusal is audited with the patient's NHS Number. Apart from the use cases so each
 * of them loads a transfer the same way and the routes can audit what they refuse.
 */
import type { Task } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import { auditedRefusal, isAuditedRefusal } from '../../audit/audited-refusal.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import { FhirError } from '../../fhir/errors.js';
import { toFhirError } from '../../fhir/error-mapping.js';
import type { RequestContext } from '../../context.js';
import type { StoredResource, ResourceStore } from '../../store/resource-store.js';
import { patientOf } from './transfer-model.js';
import { partyOf, readTransfer } from './transfer-store.js';
import type { Actor } from './transitions.js';

export class TransferAccess {
  /** The transfer each request has loaded, so a later refusal can be audited against its patient. */
  private readonly loaded = new WeakMap<RequestContext, { patient: string; task: string }>();

  constructor(
    private readonly repo: ResourceStore,
    private readonly audit: AuditWriter,
  ) {}

  /** The transfer and the caller's part in it; a caller who is no party gets a 404, audited against the patient. */
  async load(
    ctx: RequestContext,
    id: string,
    action: string,
  ): Promise<{ stored: StoredResource<Task>; actor: Actor }> {
    const stored = await readTransfer(this.repo, id);
    if (!stored)
      throw new FhirError(404, 'RESOURCE_NOT_FOUND', `Task '${String(id).slice(0, 40)}' not found`);
    try {
      const actor = partyOf(ctx, stored.resource);
      this.loaded.set(ctx, { patient: patientOf(stored.resource), task: stored.id });
      return { stored, actor };
    } catch (err) {
      await this.audit.append(
        auditRecord(ctx, action, patientOf(stored.resource), 'refused 404 not a party', {
          task: stored.id,
        }),
      );
      throw auditedRefusal(err);
    }
  }

  /**
   * Audits a refusal of an action on a transfer the caller is party to (wrong state, bad body) with
   * the patient's NHS Number, which the platform's generic refusal audit cannot know.
   */
  async auditRefusal(ctx: RequestContext, action: string, err: unknown): Promise<void> {
    const known = this.loaded.get(ctx);
    if (!known || isAuditedRefusal(err)) return;
    const { status, spineCode } = toFhirError(err);
    if (status >= 500) return;
    auditedRefusal(err);
    await this.audit.append(
      auditRecord(ctx, action, known.patient, `refused ${status} ${spineCode}`, {
        task: known.task,
      }),
    );
  }
}
