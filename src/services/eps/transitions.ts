import { randomUUID } from 'node:crypto';
import { auditRecord } from '../../audit/audit-record.js';
import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import type { OutboxMessage } from '../../messaging/types.js';
import { VersionConflictError } from '../../store/errors.js';
import type { AuditRecord } from '../../audit/types.js';
import type { ResourceWrite, StoredResource, ResourceStore } from '../../store/resource-store.js';
import type { RecordRequest } from '../write-once.js';
import type { EpsPrescriptionEventBody } from './event-topics.js';
import { PRESCRIPTION, prescriptionIndex, type EpsPrescription } from './prescription-model.js';
import {
  mayHappen,
  MESSAGE_NAMES,
  PRESCRIPTION_STATUSES,
  type Transition,
} from './state-machine.js';

/**
 * Turning a transition into writes: the new prescription version (with its event appended), its
 * audit entry and its outbox message, committed together with the version the change was
 * decided on. A concurrent change makes the commit fail as a whole; the caller re-reads and
 * decides again, so two messages racing for one prescription are applied one after the other,
 * and the second is judged against the state the first left.
 */
export interface PlannedTransition {
  prescription: EpsPrescription;
  write: ResourceWrite;
  audit: AuditRecord;
  message: OutboxMessage;
}

export type Change = (draft: EpsPrescription) => Record<string, unknown> | void;

export function messageFor(
  p: EpsPrescription,
  transition: Transition,
  org: string,
  time: string,
): OutboxMessage {
  return {
    id: randomUUID(),
    topic: `eps.prescription.${transition}`,
    key: p.nhsNumber,
    body: {
      nhsNumber: p.nhsNumber,
      prescriptionId: p.longFormId,
      shortFormId: p.shortFormId,
      issue: p.issue.number,
      status: p.status,
      organisation: org,
      time,
    } satisfies EpsPrescriptionEventBody,
  };
}

/** The refusal for a message the current state does not allow: names the state and the message, changes nothing. */
export function illegalTransition(
  p: EpsPrescription,
  transition: Exclude<Transition, 'created'>,
): FhirError {
  const { code, display } = PRESCRIPTION_STATUSES[p.status];
  const holder =
    p.dispenser &&
    (p.status.startsWith('with-dispenser') ||
      p.status === 'dispensed' ||
      p.status === 'not-dispensed' ||
      p.status === 'claimed')
      ? ` (dispenser ${p.dispenser})`
      : '';
  return new FhirError(
    409,
    'INVALID_STATE_TRANSITION',
    `A ${MESSAGE_NAMES[transition]} is not allowed: prescription ${p.shortFormId} issue ${p.issue.number} is '${p.status}' (${code} ${display})${holder}`,
  );
}

export function planCreation(
  ctx: RequestContext,
  p: EpsPrescription,
  time: string,
): PlannedTransition {
  const org = ctx.principal?.org ?? '';
  p.events = [
    {
      seq: 1,
      transition: 'created',
      from: null,
      to: p.status,
      time,
      org,
      user: ctx.principal?.userId ?? 'system',
    },
  ];
  return {
    prescription: p,
    write: {
      type: PRESCRIPTION,
      id: p.id,
      expectedVersion: 0,
      resource: p,
      index: prescriptionIndex(p),
    },
    audit: auditRecord(ctx, 'eps.prescription.created', p.nhsNumber, 'success', {
      prescriptionId: p.longFormId,
      shortFormId: p.shortFormId,
      issue: p.issue.number,
      status: p.status,
    }),
    message: messageFor(p, 'created', org, time),
  };
}

/**
 * Plans one transition of the current version, or throws the refusal; `change` sets the new status
 * and may refine it.
 */
export function planTransition(
  ctx: RequestContext,
  current: EpsPrescription,
  version: number,
  transition: Exclude<Transition, 'created'>,
  change: Change,
  time = new Date().toISOString(),
): PlannedTransition {
  if (!mayHappen(transition, current.status)) throw illegalTransition(current, transition);
  const draft: EpsPrescription = structuredClone(current);
  const detail = change(draft) ?? undefined;
  const org = ctx.principal?.org ?? '';
  draft.events.push({
    seq: current.events.length + 1,
    transition,
    from: current.status,
    to: draft.status,
    time,
    org,
    user: ctx.principal?.userId ?? 'system',
    ...(detail ? { detail } : {}),
  });
  return {
    prescription: draft,
    write: {
      type: PRESCRIPTION,
      id: draft.id,
      expectedVersion: version,
      resource: draft,
      index: prescriptionIndex(draft),
    },
    audit: auditRecord(ctx, `eps.prescription.${transition}`, draft.nhsNumber, 'success', {
      prescriptionId: draft.longFormId,
      shortFormId: draft.shortFormId,
      issue: draft.issue.number,
      from: current.status,
      to: draft.status,
      ...(detail ?? {}),
    }),
    message: messageFor(draft, transition, org, time),
  };
}

/**
 * Commits the plans (and any extra writes) as one batch; with `record` (writeOnce's, in an HTTP
 * request) the X-Request-ID record commits with them, naming the first issue's new version.
 */
export async function commitPlans(
  repo: ResourceStore,
  plans: PlannedTransition[],
  extra: ResourceWrite[] = [],
  record?: RecordRequest,
): Promise<void> {
  await repo.commit({
    resources: [...plans.map((p) => p.write), ...extra],
    audit: plans.map((p) => p.audit),
    messages: plans.map((p) => p.message),
    request: record && plans.length ? record(producedBy(plans[0].write)) : undefined,
  });
}

/** What a request that wrote `write` answered: the issue version it produced. */
export function producedBy(write: ResourceWrite) {
  return {
    status: 200,
    resourceType: PRESCRIPTION as string,
    resourceId: write.id,
    version: write.expectedVersion + 1,
  };
}

/**
 * Reads the prescription issue, plans the transition on what it read and commits it; when another
 * writer got there first, decides again on the new version (a few times at most).
 */
export async function transition(
  repo: ResourceStore,
  ctx: RequestContext,
  id: string,
  transitionName: Exclude<Transition, 'created'>,
  change: Change,
  check?: (p: EpsPrescription) => void,
  alreadyRead?: StoredResource<EpsPrescription>,
  record?: RecordRequest,
): Promise<EpsPrescription> {
  for (let attempt = 0; ; attempt++) {
    // the first attempt may decide on a version the caller has just read: the commit checks it is still current
    const stored = attempt === 0 && alreadyRead ? alreadyRead : await repo.read(PRESCRIPTION, id);
    if (!stored)
      throw new FhirError(404, 'PRESCRIPTION_NOT_FOUND', `Prescription issue ${id} not found`);
    const current = stored.resource;
    check?.(current);
    const plan = planTransition(ctx, current, stored.version, transitionName, change);
    try {
      await commitPlans(repo, [plan], [], record);
      return plan.prescription;
    } catch (err) {
      if (!(err instanceof VersionConflictError) || attempt >= 4) throw err;
    }
  }
}
