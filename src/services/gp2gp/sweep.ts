import type { Task } from 'fhir/r4.js';
import { FhirError } from '../../fhir/errors.js';
import { VersionConflictError } from '../../store/errors.js';
import type { StoredResource, ResourceStore } from '../../store/resource-store.js';
import type { Gp2gpOptions } from './options.js';
import { attemptsOf, deadlineOf, stateOf, TASK, withAttempts } from './transfer-model.js';
import { commitMove, systemContext } from './transfer-store.js';

export interface SweepResult {
  /** Request notices sent again (attempt 2, 3 ...). */
  resent: number;
  /** Transfers failed with reason 'timeout'. */
  failed: number;
}

const PAGE = 100;

/**
 * The GP2GP timeout job. A transfer past its deadline is either sent its request notice again (the
 * old practice has not started sending and attempts remain: attempt count up, next deadline set,
 * gp2gp.transfer.requested published again) or failed with reason 'timeout' (no attempts left, or
 * chunks still missing after the sending timeout, or a sent record not acknowledged in time). Finds
 * work through the `due` index only.
 *
 * It must run on one node at a time across the cluster (through the messaging scheduler's leader
 * lease); should two runs overlap anyway, the version check lets one of them win each transfer and
 * the other skips it. `now` is the clock of this run (tests pass their own).
 */
export async function sweepTransfers(
  repo: ResourceStore,
  options: Gp2gpOptions,
  now: Date = options.now(),
): Promise<SweepResult> {
  const result: SweepResult = { resent: 0, failed: 0 };
  const cutoff = now.toISOString();
  const skipped = new Set<string>();
  for (;;) {
    const ids = (
      await repo.search({
        type: TASK,
        criteria: [{ any: [{ param: 'due', op: 'le', value: cutoff }] }],
        limit: PAGE + skipped.size,
      })
    ).filter((id) => !skipped.has(id));
    if (ids.length === 0) return result;
    for (const id of ids) {
      const stored = (await repo.read(TASK, id)) as StoredResource<Task> | null;
      const due = stored && deadlineOf(stored.resource);
      if (!stored || !due || due > cutoff) {
        skipped.add(id);
        continue;
      }
      try {
        const outcome = await expire(repo, options, stored, now);
        result[outcome]++;
      } catch (err) {
        // changed under us (a practice acted just now), or no longer in a state that expires: look again next run
        if (!(err instanceof VersionConflictError || err instanceof FhirError)) throw err;
        skipped.add(id);
      }
    }
  }
}

async function expire(
  repo: ResourceStore,
  options: Gp2gpOptions,
  stored: StoredResource<Task>,
  now: Date,
): Promise<'resent' | 'failed'> {
  const task = stored.resource;
  const state = stateOf(task);
  const attempts = attemptsOf(task);
  if (state === 'requested' && attempts < options.maxRequestAttempts) {
    await commitMove(repo, systemContext('sweep'), stored, {
      action: 'resend-notice',
      actor: 'system',
      now,
      announce: true,
      deadline: new Date(now.getTime() + options.requestTimeoutMs),
      change: (t) => withAttempts(t, attempts + 1),
      audit: { action: 'gp2gp.request.resend', detail: { attempt: attempts + 1 } },
    });
    return 'resent';
  }
  const text =
    state === 'requested'
      ? `The old practice did not start sending after ${attempts} request notice(s)`
      : state === 'sending'
        ? 'Attachment chunks were still missing when the sending timeout passed'
        : 'The new practice did not acknowledge the record in time';
  await commitMove(repo, systemContext('sweep'), stored, {
    action: 'timeout',
    actor: 'system',
    now,
    reason: { code: 'timeout', text },
    audit: { action: 'gp2gp.timeout', detail: { attempts } },
  });
  return 'failed';
}
