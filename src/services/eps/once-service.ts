/**
 * EPS writes through the platform's one write path (src/services/write-once.ts): each commits its
 * X-Request-ID record with the change, a different request reusing the id is refused (400
 * INVALID_VALUE) and a retry is answered without writing again.
 *
 * How a retry is answered depends on what EPS keys the operation by:
 * - a message EPS identifies itself (a prescription order by its content digest, a dispense
 *   notification or a claim by its id) is run again: the use case finds the message applied and
 *   answers as EPS answers the same message resent;
 * - a release, a return or a withdrawal is answered from the issue version the first request
 *   produced (a nominated release: every issue it released, found by the request id);
 * - a cancellation is answered with the codes its recorded change shows (cancellationAsBefore).
 */
import type { RequestContext } from '../../context.js';
import type { Patient } from 'fhir/r4.js';
import type { ResourceStore, StoredResource } from '../../store/resource-store.js';
import type { Repository } from '../../store/repository.js';
import { writeOnce, type EarlierAnswer, type RecordRequest } from '../write-once.js';
import type { PublishedCancellation } from './cancellation-answer.js';
import type { ValidCancellation } from './cancellation-rules.js';
import { applyPublishedCancellation } from './cancellation-service.js';
import type { ValidDispense } from './dispense-rules.js';
import {
  recordClaim,
  recordDispense,
  returnToSpine,
  withdrawDispense,
  type ValidClaim,
} from './dispensing-service.js';
import { PRESCRIPTION, type EpsPrescription } from './prescription-model.js';
import { submitOrder, type SubmitResult } from './prescribing-service.js';
import type { ValidOrder } from './order-rules.js';
import { releaseIssue, releaseNominated, releasedBy } from './release-service.js';

/** A message EPS recognises when it comes again: the retry runs the use case, which answers it as resent. */
function messageOnce<T>(
  repo: ResourceStore,
  ctx: RequestContext,
  run: (record?: RecordRequest) => Promise<T>,
): Promise<T> {
  return writeOnce(repo, ctx, {
    answers: PRESCRIPTION,
    write: ({ record }) => run(record),
    asBefore: () => run(),
  });
}

/** A change to one issue: the retry is answered with the version the first request produced. */
function issueOnce(
  repo: ResourceStore,
  ctx: RequestContext,
  run: (record: RecordRequest) => Promise<EpsPrescription>,
): Promise<EpsPrescription> {
  return writeOnce(repo, ctx, {
    answers: PRESCRIPTION,
    write: ({ record }) => run(record),
    asBefore: (earlier) => earlier.stored.resource,
  });
}

export const submitOrderOnce = (
  repo: ResourceStore,
  ctx: RequestContext,
  order: ValidOrder,
  patient: Patient,
): Promise<SubmitResult> =>
  messageOnce(repo, ctx, (record) => submitOrder(repo, ctx, order, patient, record));

export const dispenseOnce = (repo: ResourceStore, ctx: RequestContext, d: ValidDispense) =>
  messageOnce(repo, ctx, (record) => recordDispense(repo, ctx, d, record));

export const claimOnce = (repo: ResourceStore, ctx: RequestContext, c: ValidClaim) =>
  messageOnce(repo, ctx, (record) => recordClaim(repo, ctx, c, record));

export const withdrawOnce = (
  repo: ResourceStore,
  ctx: RequestContext,
  shortFormId: string,
  notificationId: string | undefined,
  reason: string,
) =>
  issueOnce(repo, ctx, (record) =>
    withdrawDispense(repo, ctx, shortFormId, notificationId, reason, record),
  );

export const returnOnce = (
  repo: ResourceStore,
  ctx: RequestContext,
  shortFormId: string,
  reason: { code: string; display?: string },
) => issueOnce(repo, ctx, (record) => returnToSpine(repo, ctx, shortFormId, reason, record));

export const releaseOnce = (
  repo: ResourceStore,
  ctx: RequestContext,
  ready: StoredResource<EpsPrescription>,
) => issueOnce(repo, ctx, (record) => releaseIssue(repo, ctx, ready.id, ready, record));

/** A nominated release: the retry answers with every issue the first request released. */
export const releaseQueueOnce = (
  repo: ResourceStore,
  ctx: RequestContext,
  limit: number,
): Promise<EpsPrescription[]> =>
  writeOnce(repo, ctx, {
    answers: PRESCRIPTION,
    write: ({ record }) => releaseNominated(repo, ctx, limit, record),
    asBefore: () => releasedBy(repo, ctx.requestId),
  });

export const cancelOnce = (
  repo: Repository,
  ctx: RequestContext,
  c: ValidCancellation,
): Promise<PublishedCancellation> =>
  writeOnce(repo, ctx, {
    answers: PRESCRIPTION,
    write: ({ record }) => applyPublishedCancellation(repo, ctx, c, record),
    asBefore: (earlier) => cancellationAsBefore(earlier, c),
  });

/**
 * The codes a cancellation answered, read back from the change it recorded on its first issue:
 * items it cancelled R-0001 (others R-0006, already cancelled), 200; or marked for cancellation
 * with the dispenser, R-0002 (with dispenser) or R-0003 (with dispenser active), 400.
 */
function cancellationAsBefore(
  earlier: EarlierAnswer<EpsPrescription>,
  c: ValidCancellation,
): PublishedCancellation {
  const issue = earlier.stored.resource;
  const event = issue.events[issue.events.length - 1];
  const time = event.time;
  if (event.transition === 'cancelled') {
    const cancelled = Array.isArray(event.detail?.items) ? (event.detail.items as string[]) : [];
    const codes = new Map(
      c.items.map((id) => [id, cancelled.includes(id) ? 'R-0001' : 'R-0006'] as const),
    );
    return { kind: 'bundle', status: 200, codes, time };
  }
  const code = event.from === 'with-dispenser' ? 'R-0002' : 'R-0003';
  return { kind: 'bundle', status: 400, codes: new Map(c.items.map((id) => [id, code])), time };
}
