/**
 * A transfer's beginning: POST /Task by the new practice (checked against PDS) and the creation of a
 * transfer in state requested, which the GP change consumer also uses. Apart from the service so
 * the checks a request must pass sit together, away from the later moves of a transfer.
 */
import type { Task } from 'fhir/r4.js';
import { randomUUID } from 'node:crypto';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError } from '../../fhir/errors.js';
import { registeredPractice } from '../../fhir/general-practitioner.js';
import { isValidNhsNumber } from '../../fhir/nhs-number.js';
import { NHS_NUMBER_SYSTEM, ODS_SYSTEM } from '../../fhir/identifiers.js';
import type { RequestContext } from '../../context.js';
import { writeOnce, type EarlierAnswer, type RecordRequest } from '../write-once.js';
import { VersionConflictError } from '../../store/errors.js';
import type { Repository } from '../../store/repository.js';
import type { StoredResource } from '../../store/resource-store.js';
import { requireCurrentPatient } from '../pds/index.js';
import type { Gp2gpOptions } from './options.js';
import { newTransferTask, TASK } from './transfer-model.js';
import { readTransfer, taskWrite, transferMessage } from './transfer-store.js';

const ODS_CODE = /^[A-Z0-9]{3,10}$/;

export interface CreateTransfer {
  nhsNumber: string;
  requester: string;
  owner: string;
  trigger: string;
  /** Transfer id; derived from the triggering event so a redelivery finds the same transfer. */
  id?: string;
}

/** A retry (same X-Request-ID, same request) is answered with the Task its first try left. */
export const asBefore = ({ stored }: EarlierAnswer<Task>) => stored;

/** An active transfer (requested or sending) of this patient to this practice, if any. */
async function activeTransfer(
  repo: Repository,
  nhsNumber: string,
  requester: string,
): Promise<string | undefined> {
  const ids = await repo.search({
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
export async function createTransfer(
  repo: Repository,
  options: Gp2gpOptions,
  ctx: RequestContext,
  t: CreateTransfer,
  record?: RecordRequest,
): Promise<StoredResource<Task> | null> {
  const id = t.id ?? randomUUID();
  if (t.id && (await readTransfer(repo, id))) return null;
  if (await activeTransfer(repo, t.nhsNumber, t.requester)) return null;
  const now = options.now();
  const task = newTransferTask({
    ...t,
    id,
    now,
    deadline: new Date(now.getTime() + options.requestTimeoutMs),
  });
  try {
    const [saved] = await repo.commit({
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
export async function requestTransfer(
  repo: Repository,
  options: Gp2gpOptions,
  ctx: RequestContext,
  body: unknown,
): Promise<StoredResource<Task>> {
  return writeOnce(repo, ctx, {
    answers: TASK,
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
      const patient = await requireCurrentPatient(repo, nhsNumber);
      if (registeredPractice(patient.resource) !== org) {
        throw new FhirError(
          403,
          'ACCESS_DENIED',
          `Organisation ${org || '(none)'} is not the patient's registered practice on PDS; only the new registered practice may request the record`,
        );
      }
      // the transfer in progress may be this very request's, made a moment ago by a twin: answered as it was
      const existing = await activeTransfer(repo, nhsNumber, org);
      if (existing)
        throw new FhirError(
          409,
          'DUPLICATE_REJECTED',
          `A transfer of this patient's record to ${org} is already in progress: Task/${existing}`,
        );
      const created = await createTransfer(
        repo,
        options,
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
