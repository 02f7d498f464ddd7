import type { Bundle, Task } from 'fhir/r4.js';
import { auditRecord } from '../../audit/audit-record.js';
import type { AuditWriter } from '../../audit/audit-writer.js';
import { searchsetBundle } from '../../fhir/bundle.js';
import { FhirError } from '../../fhir/errors.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';
import type { RequestContext } from '../../context.js';
import type { RecordRequest } from '../write-once.js';
import type { Repository } from '../../store/repository.js';
import type { StoredResource } from '../../store/resource-store.js';
import { attachmentBytes, readEhr } from './chunk-store.js';
import type { Gp2gpOptions } from './options.js';
import { TransferAccess } from './transfer-access.js';
import {
  attachmentsOf,
  ownerOf,
  patientOf,
  stateOf,
  TASK,
  type AttachmentManifest,
} from './transfer-model.js';
import { acknowledgeTransfer, sendRecord } from './transfer-moves.js';
import { createTransfer, requestTransfer, type CreateTransfer } from './transfer-request.js';
import type { Actor } from './transitions.js';

const SEARCH_PARAMS = new Set([
  'owner',
  'requester',
  'patient',
  'status',
  'business-status',
  '_count',
]);

/**
 * GP2GP use cases other than chunk upload (see chunk-upload.ts) and the sweep (sweep.ts). Only the
 * two practices of a transfer may see it; to anyone else it does not exist (404), so a third
 * practice cannot learn who is moving where. Every touch is audited with the patient's NHS Number.
 * The class is the service's one face; the work lives beside it: transfer-access.ts (who may touch
 * a transfer, refusal audit), transfer-request.ts (request and create), transfer-moves.ts ($send,
 * $acknowledge). Reads, search and downloads stay here.
 */
export class TransferService {
  private readonly readAudit: AuditWriter;
  private readonly access: TransferAccess;

  constructor(
    private readonly repo: Repository,
    audit: AuditWriter,
    private readonly baseUrl: string,
    private readonly options: Gp2gpOptions,
  ) {
    this.readAudit = audit;
    this.access = new TransferAccess(repo, audit);
  }

  /** The transfer and the caller's part in it; a caller who is no party gets a 404, audited against the patient. */
  load(
    ctx: RequestContext,
    id: string,
    action: string,
  ): Promise<{ stored: StoredResource<Task>; actor: Actor }> {
    return this.access.load(ctx, id, action);
  }

  /**
   * Audits a refusal of an action on a transfer the caller is party to (wrong state, bad body) with
   * the patient's NHS Number, which the platform's generic refusal audit cannot know.
   */
  auditRefusal(ctx: RequestContext, action: string, err: unknown): Promise<void> {
    return this.access.auditRefusal(ctx, action, err);
  }

  /**
   * Creates a transfer in state requested and announces it; null when one exists already (same id or
   * active). `record`: commit it with the X-Request-ID record of the API request that asked.
   */
  create(
    ctx: RequestContext,
    t: CreateTransfer,
    record?: RecordRequest,
  ): Promise<StoredResource<Task> | null> {
    return createTransfer(this.repo, this.options, ctx, t, record);
  }

  /**
   * POST /Task by the new practice: it must be the patient's registered practice on PDS now. A retry
   * (same X-Request-ID, same request) gets the transfer it created, not a 409 for it.
   */
  request(ctx: RequestContext, body: unknown): Promise<StoredResource<Task>> {
    return requestTransfer(this.repo, this.options, ctx, body);
  }

  async read(ctx: RequestContext, id: string): Promise<StoredResource<Task>> {
    const { stored } = await this.access.load(ctx, id, 'gp2gp.read');
    await this.readAudit.append(
      auditRecord(ctx, 'gp2gp.read', patientOf(stored.resource), 'success', {
        task: stored.id,
        state: stateOf(stored.resource),
      }),
    );
    return stored;
  }

  /** GET /Task: only transfers the caller's organisation is a party to, whatever else is asked. */
  async search(ctx: RequestContext, query: Record<string, unknown>): Promise<Bundle> {
    for (const [k, v] of Object.entries(query)) {
      if (!SEARCH_PARAMS.has(k))
        throw new FhirError(
          400,
          'INVALID_SEARCH_DATA',
          `Invalid search data - unknown parameter '${k.slice(0, 40)}'; use ${[...SEARCH_PARAMS].join(', ')}`,
        );
      if (typeof v !== 'string' || v === '')
        throw new FhirError(
          400,
          'INVALID_SEARCH_DATA',
          `Invalid search data - '${k}' must be given once, with a value`,
        );
    }
    const q = query as Record<string, string>;
    const count = q._count === undefined ? 50 : Number(q._count);
    if (!Number.isInteger(count) || count < 1 || count > 500)
      throw new FhirError(
        400,
        'INVALID_SEARCH_DATA',
        'Invalid search data - _count must be a whole number from 1 to 500',
      );
    const org = ctx.principal?.org ?? '';
    if (!org)
      throw new FhirError(
        403,
        'ACCESS_DENIED',
        'Only a practice (a token with an organisation) may search transfers',
      );
    const criteria = [{ any: [{ param: 'party', op: 'eq' as const, value: org }] }];
    for (const param of ['owner', 'requester', 'patient', 'status', 'business-status']) {
      let value = q[param];
      if (value === undefined) continue;
      if (param === 'patient')
        value = value.replace(/^Patient\//, '').replace(`${NHS_NUMBER_SYSTEM}|`, '');
      if (param === 'owner' || param === 'requester')
        value = value.replace(`${ODS_SYSTEM}|`, '').toUpperCase();
      criteria.push({ any: [{ param, op: 'eq', value }] });
    }
    const ids = await this.repo.search({ type: TASK, criteria, limit: count });
    const found = (await this.repo.readMany(TASK, ids)) as StoredResource<Task>[];
    await this.readAudit.append(
      auditRecord(ctx, 'gp2gp.search', null, 'success', {
        params: Object.keys(q).sort(),
        matches: found.length,
      }),
      ...found.map((s) =>
        auditRecord(ctx, 'gp2gp.search.match', patientOf(s.resource), 'success', { task: s.id }),
      ),
    );
    return searchsetBundle(
      found.map((s) => ({ resource: s.resource, fullUrl: `${this.baseUrl}/Task/${s.id}` })),
    );
  }

  /** $send by the old practice: the EHR Bundle and the manifest of attachments to follow in chunks. */
  async send(ctx: RequestContext, id: string, body: unknown): Promise<StoredResource<Task>> {
    const { stored, actor } = await this.access.load(ctx, id, 'gp2gp.send');
    return sendRecord(this.repo, this.options, this.baseUrl, ctx, stored, actor, body);
  }

  /**
   * $acknowledge: the new practice's positive (integrated) or negative (failed, with a reason)
   * acknowledgement of a sent record, or the old practice's negative answer to a request it cannot serve.
   */
  async acknowledge(ctx: RequestContext, id: string, body: unknown): Promise<StoredResource<Task>> {
    const { stored, actor } = await this.access.load(ctx, id, 'gp2gp.acknowledge');
    return acknowledgeTransfer(this.repo, this.options, ctx, stored, actor, body);
  }

  /** The record may be read once it has been sent in full, and after it has been integrated. */
  private checkReadable(task: Task): void {
    const state = stateOf(task);
    if (state !== 'sent' && state !== 'integrated') {
      throw new FhirError(
        409,
        'INVALID_UPDATE',
        `Transfer is '${state}'; the record can be read only when it is 'sent' or 'integrated'`,
      );
    }
  }

  async ehr(ctx: RequestContext, id: string): Promise<Bundle> {
    const { stored } = await this.access.load(ctx, id, 'gp2gp.ehr.read');
    this.checkReadable(stored.resource);
    const ehr = await readEhr(this.repo, stored.id);
    if (!ehr)
      throw new Error(`transfer ${stored.id} is ${stateOf(stored.resource)} but has no EHR stored`);
    await this.readAudit.append(
      auditRecord(ctx, 'gp2gp.ehr.read', patientOf(stored.resource), 'success', {
        task: stored.id,
      }),
    );
    return ehr;
  }

  /** An attachment's manifest and its bytes as a stream of chunks (never the whole file in memory). */
  async attachment(
    ctx: RequestContext,
    id: string,
    attachmentId: string,
  ): Promise<{ manifest: AttachmentManifest; bytes: AsyncGenerator<Buffer> }> {
    const { stored } = await this.access.load(ctx, id, 'gp2gp.attachment.read');
    this.checkReadable(stored.resource);
    const manifest = attachmentsOf(stored.resource).find((a) => a.id === attachmentId);
    if (!manifest)
      throw new FhirError(
        404,
        'RESOURCE_NOT_FOUND',
        `Transfer has no attachment '${String(attachmentId).slice(0, 64)}'`,
      );
    await this.readAudit.append(
      auditRecord(ctx, 'gp2gp.attachment.read', patientOf(stored.resource), 'success', {
        task: stored.id,
        attachment: manifest.id,
        owner: ownerOf(stored.resource),
      }),
    );
    return { manifest, bytes: attachmentBytes(this.repo, stored.id, manifest) };
  }
}
