import { randomUUID } from 'node:crypto';
import { FhirError } from '../../fhir/errors.js';
import type { RequestContext } from '../../context.js';
import type { ResourceStore } from '../../store/resource-store.js';
import { PRESCRIPTION, type EpsPrescription } from './prescription-model.js';
import { transition } from './transitions.js';

/**
 * The scheduled sweep: issues whose validity has passed expire, and repeat-dispensing issues whose
 * date has come become available. It takes `now`, so tests drive it with simulated time. Each
 * change is an ordinary transition on the version read, and the indexes it searches drop an
 * issue once it has moved on, so running it twice, after a restart or on two nodes at once
 * changes each issue once.
 */
export const SWEEP_ACTOR = 'openspine:eps-sweep';
const PAGE = 200;

export interface SweepResult {
  expired: number;
  available: number;
}

function sweepContext(): RequestContext {
  return {
    requestId: randomUUID(),
    principal: {
      kind: 'application',
      userId: SWEEP_ACTOR,
      name: 'EPS expiry and availability sweep',
      role: '',
      org: '',
      sessionId: '',
      issuer: 'openspine',
      expiresAt: 0,
    },
  };
}

/** Moves each issue found; a 409 means another sweep (or a dispenser) changed it first, which is fine. */
async function moveAll(
  repo: ResourceStore,
  ids: string[],
  name: 'expired' | 'available',
  today: string,
): Promise<number> {
  let moved = 0;
  for (const id of ids) {
    try {
      await transition(
        repo,
        sweepContext(),
        id,
        name,
        (draft) => {
          if (name === 'expired') {
            draft.status = 'expired';
            for (const item of draft.items)
              if (!['dispensed', 'not-dispensed', 'cancelled'].includes(item.status))
                item.status = 'expired';
            return { expiredOn: today };
          }
          draft.status = 'to-be-dispensed';
          return { availableFrom: draft.availableFrom };
        },
        (p: EpsPrescription) => {
          // decided on a fresh read: another run may already have moved it, or its date moved on
          if (name === 'expired' && !(p.expires < today))
            throw new FhirError(409, 'INVALID_STATE_TRANSITION', 'not expired yet');
          if (name === 'available' && (p.availableFrom > today || p.expires < today))
            throw new FhirError(409, 'INVALID_STATE_TRANSITION', 'not due');
        },
      );
      moved++;
    } catch (err) {
      if (!(err instanceof FhirError && (err.status === 409 || err.status === 404))) throw err;
    }
  }
  return moved;
}

export async function sweepPrescriptions(
  repo: ResourceStore,
  now: Date = new Date(),
): Promise<SweepResult> {
  const today = now.toISOString().slice(0, 10);
  const result: SweepResult = { expired: 0, available: 0 };
  // expiry first, so an issue both due and past its validity expires rather than being offered
  for (;;) {
    const ids = await repo.search({
      type: PRESCRIPTION,
      criteria: [{ any: [{ param: 'expires-open', op: 'lt', value: today }] }],
      limit: PAGE,
    });
    const moved = await moveAll(repo, ids, 'expired', today);
    result.expired += moved;
    if (ids.length < PAGE || moved === 0) break;
  }
  for (;;) {
    const ids = await repo.search({
      type: PRESCRIPTION,
      criteria: [{ any: [{ param: 'available-from', op: 'le', value: today }] }],
      limit: PAGE,
    });
    const moved = await moveAll(repo, ids, 'available', today);
    result.available += moved;
    if (ids.length < PAGE || moved === 0) break;
  }
  return result;
}
