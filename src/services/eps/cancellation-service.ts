/**
 * Applying an EPS cancellation to the stored prescription as the published EPS does: cancelling
 * items still waiting, marking an issue with a dispenser for cancellation, or answering with the
 * code that says why not. Parsing is cancellation-rules.ts; the answer, cancellation-answer.ts.
 */
import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import { VersionConflictError } from '../../store/errors.js';
import type { Repository } from '../../store/repository.js';
import type { CancellationCode, PublishedCancellation } from './cancellation-answer.js';
import type { ValidCancellation } from './cancellation-rules.js';
import { PRESCRIPTION, type EpsPrescription } from './prescription-model.js';
import { commitPlans, planTransition } from './transitions.js';
import type { RecordRequest } from '../write-once.js';

/** What the published EPS does with this cancellation, applied: the codes per item, or the OperationOutcome code. */
export async function applyPublishedCancellation(
  repo: Repository,
  ctx: RequestContext,
  c: ValidCancellation,
  record?: RecordRequest,
): Promise<PublishedCancellation> {
  const user = ctx.principal?.userId ?? 'system';
  for (let attempt = 0; ; attempt++) {
    const stored = (
      await repo.searchResources({
        type: PRESCRIPTION,
        criteria: [{ any: [{ param: 'long-form', op: 'eq', value: c.longFormId }] }],
        limit: 100,
      })
    ).sort((a, b) => a.resource.issue.number - b.resource.issue.number);
    if (stored.length === 0) return { kind: 'outcome', code: 'R-0008', issueType: 'not-found' };
    const first = stored[0].resource;
    if (first.nhsNumber !== c.nhsNumber)
      return {
        kind: 'outcome',
        code: 'R-5000',
        issueType: 'processing',
        detail: 'Mismatch between prescription and cancellation NHSNumber',
      };
    if (first.shortFormId !== c.shortFormId)
      return {
        kind: 'outcome',
        code: 'R-5000',
        issueType: 'processing',
        detail: 'Mismatch between prescription and cancellation prescription ID',
      };
    if (first.prescriber.org !== c.org)
      throw new FhirError(
        403,
        'ACCESS_DENIED',
        `Only the prescribing organisation ${first.prescriber.org} may cancel this prescription`,
      );
    if (c.items.some((id) => !first.items.some((it) => it.id === id)))
      return { kind: 'outcome', code: 'R-0008', issueType: 'not-found' };
    const time = new Date().toISOString();
    const all = (code: CancellationCode) => new Map(c.items.map((id) => [id, code]));
    const waiting = stored.filter(
      (s) => s.resource.status === 'future' || s.resource.status === 'to-be-dispensed',
    );
    let plans: ReturnType<typeof planTransition>[] = [];
    let answer: PublishedCancellation;
    if (waiting.length > 0) {
      const live = c.items.filter((id) =>
        waiting.some((s) =>
          s.resource.items.some((it) => it.id === id && it.status !== 'cancelled'),
        ),
      );
      if (live.length === 0) return { kind: 'bundle', status: 400, codes: all('R-0006'), time };
      plans = waiting.map((s) =>
        planTransition(
          ctx,
          s.resource,
          s.version,
          'cancelled',
          (draft) => {
            for (const item of draft.items)
              if (live.includes(item.id)) {
                item.status = 'cancelled';
                item.reason = c.reason;
              }
            if (draft.items.every((it) => it.status === 'cancelled')) draft.status = 'cancelled';
            return { reason: c.reason, items: live };
          },
          time,
        ),
      );
      answer = {
        kind: 'bundle',
        status: 200,
        codes: new Map(c.items.map((id) => [id, live.includes(id) ? 'R-0001' : 'R-0006'])),
        time,
      };
    } else {
      const latestStored =
        [...stored]
          .reverse()
          .find((s) => s.resource.status !== 'expired' && s.resource.status !== 'cancelled') ??
        stored[stored.length - 1];
      const latest = latestStored.resource;
      const withDispenser =
        latest.status === 'with-dispenser' || latest.status === 'with-dispenser-active';
      if (!withDispenser) {
        const code: CancellationCode =
          latest.status === 'not-dispensed'
            ? 'R-0010'
            : latest.status === 'expired'
              ? 'R-0005'
              : latest.status === 'cancelled'
                ? 'R-0006'
                : 'R-0004';
        return { kind: 'bundle', status: 400, codes: all(code), time };
      }
      const code: CancellationCode = latest.status === 'with-dispenser' ? 'R-0002' : 'R-0003';
      const pending = pendingCancellation(latest);
      if (pending && pending.user !== user)
        return { kind: 'bundle', status: 400, codes: all('R-0007'), time };
      if (!pending) {
        plans = [
          planTransition(
            ctx,
            latest,
            latestStored.version,
            'cancellation-requested',
            () => ({ reason: c.reason, items: c.items }),
            time,
          ),
        ];
      }
      answer = { kind: 'bundle', status: 400, codes: all(code), time };
    }
    try {
      if (plans.length) await commitPlans(repo, plans, [], record);
      return answer;
    } catch (err) {
      if (!(err instanceof VersionConflictError) || attempt >= 3) throw err;
    }
  }
}

/** The cancellation request standing on an issue with a dispenser: the last one since it was last released. */
export function pendingCancellation(
  p: EpsPrescription,
): EpsPrescription['events'][number] | undefined {
  const since = p.events.map((e) => e.transition).lastIndexOf('released');
  return p.events
    .slice(since + 1)
    .reverse()
    .find((e) => e.transition === 'cancellation-requested');
}
