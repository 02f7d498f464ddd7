import type { Task } from 'fhir/r4.js';
import { createHash, randomUUID } from 'node:crypto';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import type { RecordRequest } from '../write-once.js';
import type { OutboxMessage } from '../../messaging/types.js';
import type { ResourceWrite, StoredResource, ResourceStore } from '../../store/resource-store.js';
import { transition, type Actor, type TransferAction } from './transitions.js';
import {
  attemptsOf,
  indexTask,
  moved,
  ownerOf,
  patientOf,
  requesterOf,
  stateOf,
  TASK,
  type TransferState,
} from './transfer-model.js';

/**
 * Reads and writes of transfers. Every change of state is one commit holding the new Task version
 * (checked against the version read), its audit entry and its outbox message, so a transfer, what
 * the audit says happened to it and what the rest of the platform hears about it never disagree.
 */

/** Topic of a transfer's state change: gp2gp.transfer.<state> (a re-sent request notice is 'requested' again). */
export const gp2gpTopic = (state: TransferState) => `gp2gp.transfer.${state}`;
export const GP2GP_TOPICS = 'gp2gp.transfer.*';

/** Body of every gp2gp.transfer.* message (key: the patient's NHS Number). */
export interface Gp2gpTransferEventBody {
  taskId: string;
  nhsNumber: string;
  state: TransferState;
  previousState: TransferState | null;
  /** ODS code of the old practice, which sends the record. */
  owner: string;
  /** ODS code of the new practice, which asked for it. */
  requester: string;
  /** Request notices sent so far (1 for the first). */
  attempt: number;
  reason?: string;
  time: string;
}

export function transferMessage(task: Task, previousState: TransferState | null): OutboxMessage {
  const state = stateOf(task);
  const body: Gp2gpTransferEventBody = {
    taskId: task.id!,
    nhsNumber: patientOf(task),
    state,
    previousState,
    owner: ownerOf(task),
    requester: requesterOf(task),
    attempt: attemptsOf(task),
    time: task.lastModified!,
    ...(task.statusReason?.coding?.[0]?.code ? { reason: task.statusReason.coding[0].code } : {}),
  };
  return { id: randomUUID(), topic: gp2gpTopic(state), key: body.nhsNumber, body };
}

/** A deterministic UUID for a name, so a redelivered event maps to the same transfer id. */
export function uuidFor(name: string): string {
  const h = createHash('sha256').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${((parseInt(h[16], 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The context of work the platform does on its own (sweep, bus consumers): audited as the GP2GP service. */
export function systemContext(what: string): RequestContext {
  return {
    requestId: randomUUID(),
    principal: {
      kind: 'application',
      userId: `openspine.gp2gp.${what}`,
      name: 'OpenSpine GP2GP service',
      role: '',
      org: '',
      sessionId: '',
      issuer: 'openspine',
      expiresAt: 0,
    },
  };
}

export async function readTransfer(
  repo: ResourceStore,
  id: string,
): Promise<StoredResource<Task> | null> {
  if (!/^[0-9a-fA-F-]{36}$/.test(id)) return null;
  const stored = await repo.read(TASK, id.toLowerCase());
  return stored && stored.resource.code?.coding?.[0]?.code === 'record-transfer'
    ? (stored as StoredResource<Task>)
    : null;
}

export function taskWrite(task: Task, expectedVersion: number): ResourceWrite {
  return {
    type: TASK,
    id: task.id!,
    expectedVersion,
    resource: task as Record<string, any>,
    index: indexTask(task),
  };
}

export interface Move {
  action: TransferAction;
  actor: Actor;
  now: Date;
  /** The next deadline in the new state (none when nothing waits). */
  deadline?: Date;
  reason?: { code: string; text: string };
  /** Further changes to the moved Task (manifest, attempts) before it is written. */
  change?: (task: Task) => Task;
  /** Resources committed with the move (the EHR Bundle, a chunk). */
  alsoWrite?: ResourceWrite[];
  /** Audit action name and detail. */
  audit: { action: string; detail?: Record<string, unknown> };
  /** Publish even when the state stays the same (a re-sent request notice). */
  announce?: boolean;
  /** Makes the X-Request-ID record of the API request that made the move (answered 200 with the Task). */
  request?: RecordRequest;
}

/**
 * Applies one transition to the stored transfer and commits it with its audit entry and message.
 * The transition table refuses an illegal move (naming the current state) before anything is written;
 * a concurrent change surfaces as a version conflict and commits nothing.
 */
export async function commitMove(
  repo: ResourceStore,
  ctx: RequestContext,
  stored: StoredResource<Task>,
  move: Move,
): Promise<StoredResource<Task>> {
  const from = stateOf(stored.resource);
  const to = transition(from, move.action, move.actor);
  let next = moved(stored.resource, to, move.now, move.deadline, move.reason);
  if (move.change) next = move.change(next);
  const changed = from !== to || move.announce;
  const [saved] = await repo.commit({
    resources: [taskWrite(next, stored.version), ...(move.alsoWrite ?? [])],
    audit: [
      auditRecord(ctx, move.audit.action, patientOf(next), 'success', {
        task: next.id,
        from,
        to,
        ...move.audit.detail,
      }),
    ],
    messages: changed ? [transferMessage(next, from)] : [],
    request: move.request?.({
      status: 200,
      resourceType: TASK,
      resourceId: next.id!,
      version: stored.version + 1,
    }),
  });
  return saved as StoredResource<Task>;
}

/** The caller's part in a transfer; anyone else is told it does not exist (the refusal is audited). */
export function partyOf(ctx: RequestContext, task: Task): Actor {
  const org = ctx.principal?.org ?? '';
  if (org && org === ownerOf(task)) return 'owner';
  if (org && org === requesterOf(task)) return 'requester';
  throw new FhirError(404, 'RESOURCE_NOT_FOUND', `Task '${task.id}' not found`);
}
