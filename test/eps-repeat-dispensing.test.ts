/**
 * Repeat dispensing over simulated time, and the sweep: each issue becomes available on its date
 * (not before), issues expire after their validity, and the sweep is idempotent: run again, after
 * a restart, or twice at once, each issue moves once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sweepPrescriptions } from '../src/services/eps/expiry-sweep.js';
import { PRESCRIPTION, type EpsPrescription } from '../src/services/eps/prescription-model.js';
import { cancellationCodes, codeOf } from './helpers/eps-client.js';
import { startEpsPlatform, type EpsPlatform } from './helpers/eps-platform.js';
import { addPatient } from './helpers/eps-prescribing.js';
import { day } from './helpers/eps-states.js';
import { storesUnderTest } from './helpers/stores.js';

const at = (offset: number) => new Date(day(offset) + 'T09:00:00Z');

for (const kind of await storesUnderTest()) {
  describe(`EPS repeat dispensing on ${kind}`, () => {
    let t: EpsPlatform;
    before(async () => {
      t = await startEpsPlatform(kind);
    });
    after(async () => t.close());

    async function issues(shortFormId: string): Promise<EpsPrescription[]> {
      const ids = await t.platform.repo.search({
        type: PRESCRIPTION,
        criteria: [{ any: [{ param: 'short-form', op: 'eq', value: shortFormId }] }],
        limit: 10,
      });
      return (await t.platform.repo.readMany(PRESCRIPTION, ids))
        .map((s) => s.resource as EpsPrescription)
        .sort((a, b) => a.issue.number - b.issue.number);
    }
    const statuses = async (shortFormId: string) =>
      (await issues(shortFormId)).map((p) => p.status);

    it('three issues 28 days apart, each available on its date, released and dispensed in turn', async () => {
      const nhs = await addPatient(t.platform.repo, { nominated: 'FRD01' });
      const pharmacy = await t.platform.token('R8003', { user: 'pharmacist-rd', org: 'FRD01' });
      const p = await t.eps.prescribe({
        nhsNumber: nhs,
        type: 'continuous-repeat-dispensing',
        repeats: 2,
        intervalDays: 28,
      });
      assert.deepEqual(
        await statuses(p.ids.shortFormId),
        ['to-be-dispensed', 'future', 'future'],
        'issue 1 now, the others later',
      );
      assert.deepEqual(
        (await issues(p.ids.shortFormId)).map((i) => i.availableFrom),
        [day(0), day(28), day(56)],
        'on schedule',
      );
      assert.equal(
        (await t.eps.release(undefined, pharmacy, 10)).body.total,
        1,
        'issue 1 in the queue',
      );
      const d = await t.eps.dispenseAll(p, nhs, pharmacy);
      assert.equal(d.status, 200, JSON.stringify(d.body));
      let res = await t.eps.release(p.ids.shortFormId, pharmacy);
      assert.equal(codeOf(res), 'INVALID_STATE_TRANSITION', 'issue 2 is not due yet');
      assert.ok(res.body.issue[0].diagnostics.includes("'future'"), 'and the refusal says so');

      assert.deepEqual(
        await sweepPrescriptions(t.platform.repo, at(27)),
        { expired: 0, available: 0 },
        'day 27: nothing due',
      );
      assert.deepEqual(
        await statuses(p.ids.shortFormId),
        ['dispensed', 'future', 'future'],
        'unchanged',
      );
      const day28 = await sweepPrescriptions(t.platform.repo, at(28));
      assert.equal(day28.available, 1, 'day 28: issue 2 becomes available');
      assert.deepEqual(
        await sweepPrescriptions(t.platform.repo, at(28)),
        { expired: 0, available: 0 },
        'running again does nothing',
      );
      assert.deepEqual(
        await statuses(p.ids.shortFormId),
        ['dispensed', 'to-be-dispensed', 'future'],
        'issue 2 only',
      );
      res = await t.eps.release(undefined, pharmacy, 10);
      assert.equal(res.body.total, 1, 'issue 2 reaches the nominated queue');
      await t.eps.dispenseAll(p, nhs, pharmacy);

      await sweepPrescriptions(t.platform.repo, at(56));
      assert.deepEqual(
        await statuses(p.ids.shortFormId),
        ['dispensed', 'dispensed', 'to-be-dispensed'],
        'issue 3 on day 56',
      );
      const events = (await issues(p.ids.shortFormId))[2].events.map((e) => e.transition);
      assert.deepEqual(
        events,
        ['created', 'available'],
        'availability is a transition in the history',
      );
      const outbox = await t.platform.repo.messaging.readOutbox(0, 100_000);
      assert.equal(
        outbox.filter(
          (m) =>
            m.topic === 'eps.prescription.available' &&
            (m.body as any).shortFormId === p.ids.shortFormId,
        ).length,
        2,
        'a message for each issue made available',
      );
    });

    it('cancelling a repeat-dispensing course after issue 1 cancels the issues still to come', async () => {
      const nhs = await addPatient(t.platform.repo);
      const p = await t.eps.prescribe({
        nhsNumber: nhs,
        type: 'continuous-repeat-dispensing',
        repeats: 2,
        intervalDays: 7,
      });
      await t.eps.release(p.ids.shortFormId);
      await t.eps.dispenseAll(p, nhs);
      const res = await t.eps.cancel(p);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.ok(
        cancellationCodes(res).length > 0 && cancellationCodes(res).every((c) => c === 'R-0001'),
        `every item cancelled (R-0001): ${cancellationCodes(res)}`,
      );
      assert.deepEqual(
        await statuses(p.ids.shortFormId),
        ['dispensed', 'cancelled', 'cancelled'],
        'future issues cancelled, the dispensed one kept',
      );
    });

    it('issues past their validity expire, once, even when sweeps overlap; settled issues are left alone', async () => {
      const nhs = await addPatient(t.platform.repo);
      const p = await t.eps.prescribe({
        nhsNumber: nhs,
        type: 'continuous-repeat-dispensing',
        repeats: 3,
        intervalDays: 30,
        validityEnd: day(70),
      });
      await t.eps.release(p.ids.shortFormId);
      await t.eps.dispenseAll(p, nhs);
      await sweepPrescriptions(t.platform.repo, at(30));
      assert.deepEqual(
        await statuses(p.ids.shortFormId),
        ['dispensed', 'to-be-dispensed', 'future', 'future'],
        'issue 2 available',
      );
      // day 71: past the end of the course; two sweeps at once (two nodes, or one restarted mid-run)
      const [a, b] = await Promise.all([
        sweepPrescriptions(t.platform.repo, at(71)),
        sweepPrescriptions(t.platform.repo, at(71)),
      ]);
      assert.deepEqual(
        await statuses(p.ids.shortFormId),
        ['dispensed', 'expired', 'expired', 'expired'],
        'the open issues expired',
      );
      for (const issue of (await issues(p.ids.shortFormId)).slice(1)) {
        assert.equal(
          issue.events.filter((e) => e.transition === 'expired').length,
          1,
          `issue ${issue.issue.number} expired exactly once`,
        );
        assert.ok(
          issue.items.every((i) => i.status === 'expired'),
          'its items expired',
        );
      }
      assert.equal(
        a.expired + b.expired,
        3,
        'the sweeps between them expired each of the three once',
      );
      assert.deepEqual(
        await sweepPrescriptions(t.platform.repo, at(71)),
        { expired: 0, available: 0 },
        'a later run finds nothing',
      );
      const res = await t.eps.release(p.ids.shortFormId);
      assert.equal(codeOf(res), 'INVALID_STATE_TRANSITION', 'an expired issue cannot be released');
    });

    it('the sweep runs as a scheduled, leased job on the platform', async () => {
      const job =
        (t.platform.app.scheduler as any).jobs?.map((j: { name: string }) => j.name) ?? [];
      assert.ok(job.includes('eps.expiry-sweep'), `registered with the scheduler: ${job}`);
    });
  });
}
