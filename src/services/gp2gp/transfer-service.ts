import type { Bundle, Task } from 'fhir/r4.js';
import { randomUUID } from 'node:crypto';
import { auditRecord } from '../../audit/audit-record.js';
import { auditedRefusal, isAuditedRefusal } from '../../audit/audited-refusal.js';
import { AuditWriter } from '../../audit/audit-writer.js';
import { searchsetBundle } from '../../fhir/bundle.js';
import { FhirError } from '../../fhir/errors.js';
import { registeredPractice } from '../../fhir/general-practitioner.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { parameterValue, parametersOf } from '../../fhir/parameters.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';
import { toFhirError } from '../../fhir/error-mapping.js';
import type { RequestContext } from '../../context.js';
import { writeOnce, type EarlierAnswer, type RecordRequest } from '../write-once.js';
import { VersionConflictError } from '../../store/errors.js';
import type { Repository } from '../../store/repository.js';
import type { StoredResource } from '../../store/resource-store.js';
import { requireCurrentPatient } from '../pds/index.js';
import { attachmentBytes, ehrWrite, readEhr } from './chunk-store.js';
import type { Gp2gpOptions } from './options.js';
import { NEGATIVE_REASONS, parseSendRequest } from './send-request.js';
import {
  attachmentsOf,
  newTransferTask,
  ownerOf,
  patientOf,
  stateOf,
  TASK,
  withManifest,
  type AttachmentManifest,
} from './transfer-model.js';
import { commitMove, partyOf, readTransfer, taskWrite, transferMessage } from './transfer-store.js';
import { transition, type Actor } from './transitions.js';

const ODS_CODE = /^[A-Z0-9]{3,10}$/;
const SEARCH_PARAMS = new Set([
  'owner',
  'requester',
  'patient',
  'status',
  'business-status',
  '_count',
]);

export interface CreateTransfer {
  nhsNumber: string;
  requester: string;
  owner: string;
  trigger: string;
  /** Transfer id; derived from the triggering event so a redelivery finds the same transfer. */
  id?: string;
}

/**
 * GP2GP use cases other than chunk upload (see chunk-upload.ts) and the sweep (sweep.ts). Only the
 * two practices of a transfer may see it; to anyone else it does not exist (404), so a third
 * practice cannot learn who is moving where. Every touch is audited with the patient's NHS Number.
 */
export class TransferService {
  private readonly readAudit: AuditWriter;
  /** The transfer each request has loaded, so a later refusal can be audited against its patient. */
  private readonly loaded = new WeakMap<RequestContext, { patient: string; task: string }>();

  constructor(
    private readonly repo: Repository,
    audit: AuditWriter,
    private readonly baseUrl: string,
    private readonly options: Gp2gpOptions,
  ) {
    this.readAudit = audit;
  }

  private deadline(now: Date, ms: number): Date {
    return new Date(now.getTime() + ms);
  }

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
      await this.readAudit.append(
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
    await this.readAudit.append(
      auditRecord(ctx, action, known.patient, `refused ${status} ${spineCode}`, {
        task: known.task,
      }),
    );
  }

  /** An active transfer (requested or sending) of this patient to this practice, if any. */
  private async activeTransfer(nhsNumber: string, requester: string): Promise<string | undefined> {
    const ids = await this.repo.search({
      type: TASK,
      criteria: [{ any: [{ param: 'active', op: 'eq', value: `${nhsNumber}|${requester}` }] }],
      limit: 1,
    });
    return ids[0];
  }

  /**
   * Creates a transfer in state requested and announces it; null when one exists already (same id or
   * active). `record`: commit it with the X-Request-ID record of the API request that asked.
   */
  async create(
    ctx: RequestContext,
    t: CreateTransfer,
    record?: RecordRequest,
  ): Promise<StoredResource<Task> | null> {
    const id = t.id ?? randomUUID();
    if (t.id && (await readTransfer(this.repo, id))) return null;
    if (await this.activeTransfer(t.nhsNumber, t.requester)) return null;
    const now = this.options.now();
    const task = newTransferTask({
      ...t,
      id,
      now,
      deadline: this.deadline(now, this.options.requestTimeoutMs),
    });
    try {
      const [saved] = await this.repo.commit({
        resources: [taskWrite(task, 0)],
        audit: [
          auditRecord(ctx, 'gp2gp.request', t.nhsNumber, 'success', {
            task: id,
            owner: t.owner,
            requester: t.requester,
            trigger: t.trigger,
          }),
        ],
        messages: [transferMessage(task, null)],
        request: record?.({ status: 201, resourceType: TASK, resourceId: id, version: 1 }),
      });
      return saved as StoredResource<Task>;
    } catch (err) {
      if (err instanceof VersionConflictError) return null; // a twin delivery created it first
      throw err;
    }
  }

  /**
   * POST /Task by the new practice: it must be the patient's registered practice on PDS now. A retry
   * (same X-Request-ID, same request) gets the transfer it created, not a 409 for it.
   */
  async request(ctx: RequestContext, body: unknown): Promise<StoredResource<Task>> {
    return writeOnce(this.repo, ctx, {
      asBefore,
      write: async ({ record }) => {
        const b = body as Task | null;
        if (!b || typeof b !== 'object' || b.resourceType !== 'Task')
          throw new FhirError(
            400,
            'INVALID_VALUE',
            'Invalid value - the body must be a Task resource',
          );
        const nhsNumber =
          b.for?.identifier?.system === NHS_NUMBER_SYSTEM ? b.for.identifier.value : undefined;
        if (!nhsNumber)
          throw new FhirError(
            400,
            'MISSING_VALUE',
            `Missing value - Task.for.identifier must name the patient by NHS Number (${NHS_NUMBER_SYSTEM})`,
          );
        if (!isValidNhsNumber(nhsNumber))
          throw new FhirError(
            400,
            'INVALID_VALUE',
            `Invalid value - '${String(nhsNumber).slice(0, 20)}' is not a valid NHS Number`,
          );
        const owner =
          b.owner?.identifier?.system === ODS_SYSTEM ? b.owner.identifier.value : undefined;
        if (!owner || !ODS_CODE.test(owner))
          throw new FhirError(
            400,
            'MISSING_VALUE',
            `Missing value - Task.owner.identifier must name the old practice by ODS code (${ODS_SYSTEM})`,
          );
        const org = ctx.principal?.org ?? '';
        const requester = b.requester?.identifier?.value;
        if (requester !== undefined && requester !== org)
          throw new FhirError(
            403,
            'ACCESS_DENIED',
            `A practice may only request records for itself; the token is for ${org || '(no organisation)'}`,
          );
        if (owner === org)
          throw new FhirError(
            400,
            'INVALID_VALUE',
            'Invalid value - the old practice (owner) and the requesting practice are the same',
          );
        const patient = await requireCurrentPatient(this.repo, nhsNumber);
        if (registeredPractice(patient.resource) !== org) {
          throw new FhirError(
            403,
            'ACCESS_DENIED',
            `Organisation ${org || '(none)'} is not the patient's registered practice on PDS; only the new registered practice may request the record`,
          );
        }
        // the transfer in progress may be this very request's, made a moment ago by a twin: answered as it was
        const existing = await this.activeTransfer(nhsNumber, org);
        if (existing)
          throw new FhirError(
            409,
            'DUPLICATE_REJECTED',
            `A transfer of this patient's record to ${org} is already in progress: Task/${existing}`,
          );
        const created = await this.create(
          ctx,
          { nhsNumber, requester: org, owner, trigger: 'api' },
          record,
        );
        if (!created)
          throw new FhirError(
            409,
            'DUPLICATE_REJECTED',
            `A transfer of this patient's record to ${org} is already in progress`,
          );
        return created;
      },
    });
  }

  async read(ctx: RequestContext, id: string): Promise<StoredResource<Task>> {
    const { stored } = await this.load(ctx, id, 'gp2gp.read');
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
    const { stored, actor } = await this.load(ctx, id, 'gp2gp.send');
    const nhsNumber = patientOf(stored.resource);
    // who and when first, so a wrong party or a wrong state is told so before its body is judged
    transition(stateOf(stored.resource), 'send', actor);
    const req = parseSendRequest(body, nhsNumber, this.options);
    const now = this.options.now();
    const complete = req.attachments.length === 0;
    return commitMove(this.repo, ctx, stored, {
      action: complete ? 'send-complete' : 'send',
      actor,
      now,
      deadline: this.deadline(
        now,
        complete ? this.options.ackTimeoutMs : this.options.sendingTimeoutMs,
      ),
      change: (task) => withManifest(task, req.attachments, this.baseUrl),
      alsoWrite: [ehrWrite(stored.id, nhsNumber, req.ehr)],
      audit: {
        action: 'gp2gp.send',
        detail: {
          entries: req.ehr.entry!.length,
          attachments: req.attachments.length,
          bytes: req.attachments.reduce((n, a) => n + a.size, 0),
        },
      },
    });
  }

  /**
   * $acknowledge: the new practice's positive (integrated) or negative (failed, with a reason)
   * acknowledgement of a sent record, or the old practice's negative answer to a request it cannot serve.
   */
  async acknowledge(ctx: RequestContext, id: string, body: unknown): Promise<StoredResource<Task>> {
    const { stored, actor } = await this.load(ctx, id, 'gp2gp.acknowledge');
    // a retry (same X-Request-ID, same request) gets the Task as the acknowledgement left it
    return writeOnce(this.repo, ctx, {
      asBefore,
      write: async ({ record }) => {
        const params = parametersOf(body);
        const outcome = parameterValue(params, 'outcome');
        if (outcome !== 'accepted' && outcome !== 'rejected')
          throw new FhirError(
            400,
            'INVALID_VALUE',
            "Invalid value - parameter 'outcome' must be 'accepted' or 'rejected'",
          );
        const reason = parameterValue(params, 'reason');
        const text = parameterValue(params, 'text');
        if (outcome === 'rejected' && (!reason || !Object.hasOwn(NEGATIVE_REASONS, reason))) {
          throw new FhirError(
            400,
            'INVALID_VALUE',
            `Invalid value - a negative acknowledgement needs parameter 'reason', one of ${Object.keys(NEGATIVE_REASONS).join(', ')}`,
          );
        }
        const now = this.options.now();
        const action =
          outcome === 'accepted' ? 'accept' : actor === 'owner' ? 'reject' : 'reject-ack';
        return commitMove(this.repo, ctx, stored, {
          action,
          actor,
          now,
          reason:
            outcome === 'rejected'
              ? { code: reason!, text: text?.slice(0, 500) || NEGATIVE_REASONS[reason!] }
              : undefined,
          audit: {
            action: 'gp2gp.acknowledge',
            detail: { outcome, ...(reason ? { reason } : {}) },
          },
          request: record,
        });
      },
    });
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
    const { stored } = await this.load(ctx, id, 'gp2gp.ehr.read');
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
    const { stored } = await this.load(ctx, id, 'gp2gp.attachment.read');
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

const asBefore = ({ stored }: EarlierAnswer) => stored as StoredResource<Task>;
