import { auditRecord } from '../../audit/audit-record.js';
import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import { VersionConflictError } from '../../store/errors.js';
import type { StoredResource, ResourceStore } from '../../store/resource-store.js';
import type { ValidDispense } from './dispense-rules.js';
import { PRESCRIPTION, type DispenseRecord, type EpsPrescription } from './prescription-model.js';
import { issuesByShortForm } from './release-service.js';
import {
  ITEM_STATUSES,
  mayHappen,
  SETTLED_ITEMS,
  statusFromItems,
  type Transition,
} from './state-machine.js';
import { pendingCancellation } from './cancellation-service.js';
import { illegalTransition, planTransition, producedBy, transition } from './transitions.js';
import type { RecordRequest } from '../write-once.js';

type DispenserTransition = Extract<Transition, 'dispensed' | 'withdrawn' | 'returned' | 'claimed'>;

/**
 * The issue of a prescription a dispenser's message is about: the one this pharmacy holds in a
 * state the message may start from. Otherwise the refusal names the state that stands in the way.
 */
export function heldIssue(
  issues: StoredResource<EpsPrescription>[],
  org: string,
  shortFormId: string,
  name: DispenserTransition,
): StoredResource<EpsPrescription> {
  if (issues.length === 0)
    throw new FhirError(404, 'PRESCRIPTION_NOT_FOUND', `Prescription ${shortFormId} not found`);
  const all = issues.map((s) => s.resource);
  const ours = all.filter((p) => p.dispenser === org);
  const fit = issues.find(
    (s) => s.resource.dispenser === org && mayHappen(name, s.resource.status),
  );
  if (fit) return fit;
  const held = all.find(
    (p) =>
      p.status.startsWith('with-dispenser') ||
      p.status === 'dispensed' ||
      p.status === 'not-dispensed',
  );
  if (held && held.dispenser !== org)
    throw new FhirError(
      403,
      'ACCESS_DENIED',
      `Prescription ${shortFormId} issue ${held.issue.number} is with dispenser ${held.dispenser}, not ${org || '(no organisation)'}`,
    );
  throw illegalTransition(
    ours[ours.length - 1] ??
      all.find((p) => p.status !== 'expired' && p.status !== 'cancelled') ??
      all[all.length - 1],
    name,
  );
}

/** A message already applied is answered with the current state, which is itself a read of patient data: audited. */
export async function replayed(
  repo: ResourceStore,
  ctx: RequestContext,
  p: EpsPrescription,
  detail: Record<string, unknown>,
): Promise<EpsPrescription> {
  await repo.commit({
    audit: [
      auditRecord(ctx, 'eps.message.replayed', p.nhsNumber, 'success', {
        prescriptionId: p.longFormId,
        shortFormId: p.shortFormId,
        issue: p.issue.number,
        status: p.status,
        ...detail,
      }),
    ],
  });
  return p;
}

const requireHolder = (org: string) => (p: EpsPrescription) => {
  if (p.dispenser !== org)
    throw new FhirError(
      403,
      'ACCESS_DENIED',
      `Prescription ${p.shortFormId} issue ${p.issue.number} is with dispenser ${p.dispenser ?? '(none)'}, not ${org}`,
    );
};

/** Item statuses rebuilt from the dispense notifications still standing (used after a withdrawal). */
function replayDispenses(draft: EpsPrescription): void {
  for (const item of draft.items) {
    if (item.status === 'cancelled') continue;
    item.status = 'with-dispenser';
    item.supplied = 0;
    delete item.reason;
  }
  for (const record of draft.dispenses.filter((d) => !d.withdrawn)) applyItems(draft, record.items);
  draft.status = statusFromItems(draft.items.map((i) => i.status));
}

function applyItems(draft: EpsPrescription, reported: DispenseRecord['items']): void {
  for (const r of reported) {
    const item = draft.items.find((i) => i.id === r.itemId)!;
    item.status = r.status;
    item.supplied += r.quantity;
    if (r.reason) item.reason = r.reason;
    else delete item.reason;
  }
}

/**
 * A dispense notification: full, partial, owing or not dispensed per item; the same notification
 * again changes nothing.
 */
export async function recordDispense(
  repo: ResourceStore,
  ctx: RequestContext,
  d: ValidDispense,
  record?: RecordRequest,
): Promise<EpsPrescription> {
  const org = ctx.principal!.org;
  const issues = await issuesByShortForm(repo, d.shortFormId);
  const already = issues
    .map((s) => s.resource)
    .find((p) => p.dispenses.some((r) => r.id === d.messageId && !r.withdrawn));
  if (already) return replayed(repo, ctx, already, { notification: d.messageId });
  if (d.replaces) return amendDispense(repo, ctx, d, issues, record);
  const held = heldIssue(issues, org, d.shortFormId, 'dispensed');
  const target = held.resource;
  if (target.longFormId !== d.longFormId || target.nhsNumber !== d.nhsNumber)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'The notification does not match the prescription (long-form ID or patient differ)',
    );
  return transition(
    repo,
    ctx,
    target.id,
    'dispensed',
    applyNotification(ctx, d),
    requireHolder(org),
    held,
    record,
  );
}

/** The change a notification makes: its items' outcomes, refused for items already settled. */
function applyNotification(ctx: RequestContext, d: ValidDispense) {
  const org = ctx.principal!.org;
  return (draft: EpsPrescription) => {
    for (const r of d.items) {
      const item = draft.items.find((i) => i.id === r.itemId);
      if (!item)
        throw new FhirError(
          400,
          'INVALID_VALUE',
          `Item ${r.itemId} is not on prescription ${draft.shortFormId}`,
        );
      if (SETTLED_ITEMS.includes(item.status)) {
        throw new FhirError(
          409,
          'INVALID_STATE_TRANSITION',
          `A dispense notification is not allowed for item ${item.id}: it is '${item.status}' (${ITEM_STATUSES[item.status].code} ${ITEM_STATUSES[item.status].display})`,
        );
      }
    }
    const record: DispenseRecord = {
      id: d.messageId,
      org,
      user: ctx.principal!.userId,
      time: new Date().toISOString(),
      items: d.items,
    };
    draft.dispenses.push(record);
    applyItems(draft, d.items);
    draft.status = statusFromItems(draft.items.map((i) => i.status));
    return {
      notification: d.messageId,
      ...(d.replaces ? { replaces: d.replaces } : {}),
      items: d.items.map((i) => ({
        item: i.itemId,
        status: i.status,
        quantity: i.quantity,
        ...(i.reason ? { reason: i.reason.code } : {}),
      })),
    };
  };
}

/**
 * An amended dispense notification (MessageHeader replacementOf): the notification it replaces is
 * withdrawn and the amendment applied, in one commit, whatever the issue's status (an amendment
 * may follow 'dispensed'). The history shows both: a withdrawal (reason 'amended') and the notification.
 */
async function amendDispense(
  repo: ResourceStore,
  ctx: RequestContext,
  d: ValidDispense,
  issues: StoredResource<EpsPrescription>[],
  record?: RecordRequest,
): Promise<EpsPrescription> {
  const org = ctx.principal!.org;
  const standing = (p: EpsPrescription) =>
    p.dispenses.find((r) => r.id === d.replaces && !r.withdrawn);
  const found = issues.find((s) => standing(s.resource));
  if (!found)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      `The notification amended (replacementOf ${d.replaces}) is not a standing dispense notification of prescription ${d.shortFormId}`,
    );
  const target = found.resource;
  if (target.longFormId !== d.longFormId || target.nhsNumber !== d.nhsNumber)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'The notification does not match the prescription (long-form ID or patient differ)',
    );
  for (let attempt = 0; ; attempt++) {
    const stored = attempt === 0 ? found : await repo.read(PRESCRIPTION, found.id);
    if (!stored)
      throw new FhirError(
        404,
        'PRESCRIPTION_NOT_FOUND',
        `Prescription issue ${found.id} not found`,
      );
    const current = stored.resource;
    requireHolder(org)(current);
    const withdrawal = planTransition(ctx, current, stored.version, 'withdrawn', (draft) => {
      const replaced = standing(draft);
      if (!replaced)
        throw new FhirError(
          409,
          'INVALID_STATE_TRANSITION',
          `The notification amended (${d.replaces}) has been withdrawn`,
        );
      replaced.withdrawn = { time: new Date().toISOString(), reason: 'amended' };
      replayDispenses(draft);
      return { notification: replaced.id, reason: 'amended', replacedBy: d.messageId };
    });
    const amendment = planTransition(
      ctx,
      withdrawal.prescription,
      stored.version,
      'dispensed',
      applyNotification(ctx, d),
    );
    try {
      await repo.commit({
        resources: [amendment.write],
        audit: [withdrawal.audit, amendment.audit],
        messages: [withdrawal.message, amendment.message],
        request: record?.(producedBy(amendment.write)),
      });
      return amendment.prescription;
    } catch (err) {
      if (!(err instanceof VersionConflictError) || attempt >= 4) throw err;
    }
  }
}

/** Withdraws the latest standing dispense notification (optionally named); the items go back to what the others say. */
export async function withdrawDispense(
  repo: ResourceStore,
  ctx: RequestContext,
  shortFormId: string,
  notificationId: string | undefined,
  reason: string,
  record?: RecordRequest,
): Promise<EpsPrescription> {
  const org = ctx.principal!.org;
  const held = heldIssue(await issuesByShortForm(repo, shortFormId), org, shortFormId, 'withdrawn');
  return transition(
    repo,
    ctx,
    held.id,
    'withdrawn',
    (draft) => {
      const standing = draft.dispenses.filter((r) => !r.withdrawn);
      const last = standing[standing.length - 1];
      if (!last) throw illegalTransition(draft, 'withdrawn');
      if (notificationId && notificationId !== last.id) {
        throw new FhirError(
          409,
          'INVALID_STATE_TRANSITION',
          `Only the latest dispense notification (${last.id}) may be withdrawn, not ${notificationId}`,
        );
      }
      last.withdrawn = { time: new Date().toISOString(), reason };
      replayDispenses(draft);
      return { notification: last.id, reason };
    },
    requireHolder(org),
    held,
    record,
  );
}

/**
 * Returns an undispensed prescription to Spine: available again (to its nominated pharmacy's queue,
 * or to any token).
 */
export async function returnToSpine(
  repo: ResourceStore,
  ctx: RequestContext,
  shortFormId: string,
  reason: { code: string; display?: string },
  record?: RecordRequest,
): Promise<EpsPrescription> {
  const org = ctx.principal!.org;
  const held = heldIssue(await issuesByShortForm(repo, shortFormId), org, shortFormId, 'returned');
  return transition(
    repo,
    ctx,
    held.id,
    'returned',
    (draft) => {
      // a cancellation asked for while the pharmacy held the issue takes effect as it comes back
      const pending = pendingCancellation(draft);
      const cancelling = pending ? pendingItems(pending) : [];
      draft.status = 'to-be-dispensed';
      delete draft.dispenser;
      for (const item of draft.items) {
        if (item.status === 'with-dispenser') item.status = 'to-be-dispensed';
        if (pending && cancelling.includes(item.id) && !SETTLED_ITEMS.includes(item.status)) {
          item.status = 'cancelled';
          const why = (
            pending.detail as { reason?: { code: string; display?: string } } | undefined
          )?.reason;
          if (why) item.reason = why;
        }
      }
      if (draft.items.every((item) => item.status === 'cancelled')) draft.status = 'cancelled';
      return { reason, returnedBy: org, ...(pending ? { cancelledAsRequested: cancelling } : {}) };
    },
    requireHolder(org),
    held,
    record,
  );
}

export interface ValidClaim {
  claimId: string;
  shortFormId: string;
  nhsNumber: string;
  endorsements: { itemId: string; codes: string[] }[];
}

/** A claim for reimbursement: exactly once per issue; the same claim again returns the claimed issue. */
export async function recordClaim(
  repo: ResourceStore,
  ctx: RequestContext,
  c: ValidClaim,
  record?: RecordRequest,
): Promise<EpsPrescription> {
  const org = ctx.principal!.org;
  const issues = await issuesByShortForm(repo, c.shortFormId);
  const already = issues.map((s) => s.resource).find((p) => p.claim?.id === c.claimId);
  if (already) return replayed(repo, ctx, already, { claim: c.claimId });
  const held = heldIssue(issues, org, c.shortFormId, 'claimed');
  if (held.resource.nhsNumber !== c.nhsNumber)
    throw new FhirError(
      400,
      'INVALID_VALUE',
      'The claim names a different patient from the prescription',
    );
  return transition(
    repo,
    ctx,
    held.id,
    'claimed',
    (draft) => {
      for (const e of c.endorsements)
        if (!draft.items.some((i) => i.id === e.itemId))
          throw new FhirError(
            400,
            'INVALID_VALUE',
            `Item ${e.itemId} is not on prescription ${draft.shortFormId}`,
          );
      draft.status = 'claimed';
      draft.claim = {
        id: c.claimId,
        org,
        time: new Date().toISOString(),
        endorsements: c.endorsements,
      };
      return { claim: c.claimId, endorsements: c.endorsements };
    },
    requireHolder(org),
    held,
    record,
  );
}

/** The items a standing cancellation request names. */
function pendingItems(event: NonNullable<ReturnType<typeof pendingCancellation>>): string[] {
  const items = event.detail?.items;
  return Array.isArray(items) ? items.filter((i): i is string => typeof i === 'string') : [];
}
