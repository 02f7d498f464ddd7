/** Bringing a fresh prescription into each state of the EPS state machine, through the API. */
import assert from 'node:assert/strict';
import type { Repository } from '../../src/store/repository.js';
import { PRESCRIPTION, type EpsPrescription } from '../../src/services/eps/prescription-model.js';
import { sweepPrescriptions } from '../../src/services/eps/expiry-sweep.js';
import type { PrescriptionStatus } from '../../src/services/eps/state-machine.js';
import type { EpsClient, EpsResponse, Prescribed } from './eps-client.js';
import { addPatient } from './eps-prescribing.js';

export const day = (offset: number) =>
  new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

export interface InState {
  p: Prescribed;
  nhs: string;
}

function ok(res: EpsResponse, what: string): void {
  assert.equal(res.status, 200, `${what}: ${res.status} ${JSON.stringify(res.body).slice(0, 400)}`);
}

export async function storedIssue(
  repo: Repository,
  shortFormId: string,
  issue = 1,
): Promise<{ version: number; p: EpsPrescription }> {
  const ids = await repo.search({
    type: PRESCRIPTION,
    criteria: [{ any: [{ param: 'short-form', op: 'eq', value: shortFormId }] }],
    limit: 100,
  });
  const all = (await repo.readMany(PRESCRIPTION, ids)).filter(
    (s) => s.resource.issue.number === issue,
  );
  assert.equal(all.length, 1, `issue ${issue} of ${shortFormId} is stored`);
  return { version: all[0].version, p: all[0].resource as EpsPrescription };
}

/** A new prescription for a new patient (nominating FLE79), moved into `state`. */
export async function prescriptionIn(
  eps: EpsClient,
  repo: Repository,
  state: PrescriptionStatus,
): Promise<InState> {
  const nhs = await addPatient(repo);
  const options =
    state === 'future'
      ? { validityStart: day(10) }
      : state === 'expired'
        ? { validityStart: day(-400), validityEnd: day(-1) }
        : {};
  const p = await eps.prescribe({ nhsNumber: nhs, ...options });
  const [first, second] = p.ids.items;
  switch (state) {
    case 'future':
    case 'to-be-dispensed':
      break;
    case 'expired': {
      await sweepPrescriptions(repo, new Date());
      break;
    }
    case 'cancelled':
      ok(await eps.cancel(p), 'cancel');
      break;
    default: {
      ok(await eps.release(p.ids.shortFormId), 'release');
      if (state === 'with-dispenser') break;
      if (state === 'with-dispenser-active') {
        ok(
          await eps.dispense(p, nhs, [{ item: first, code: '0003', quantity: 5 }]),
          'partial dispense',
        );
        break;
      }
      if (state === 'not-dispensed') {
        ok(
          await eps.dispense(p, nhs, [
            { item: first, code: '0002', quantity: 0, reason: '0001' },
            { item: second, code: '0002', quantity: 0, reason: '0001' },
          ]),
          'not dispensed',
        );
        break;
      }
      ok(await eps.dispenseAll(p, nhs), 'dispense');
      if (state === 'claimed') ok(await eps.claim(p, nhs), 'claim');
    }
  }
  const { p: stored } = await storedIssue(repo, p.ids.shortFormId);
  assert.equal(stored.status, state, `set-up reached ${state}`);
  return { p, nhs };
}
