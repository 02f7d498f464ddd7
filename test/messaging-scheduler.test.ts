/**
 * Leader leases and the scheduler: a job runs on one of several competing nodes only, and another
 * node takes it over once the first stops.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LeaseScheduler } from '../src/messaging/lease-scheduler.js';
import { waitFor, withRepo } from './helpers/messaging.js';
import { storesUnderTest } from './helpers/stores.js';

for (const kind of await storesUnderTest()) {
  describe(`leases and scheduler (${kind})`, () => {
    it('a lease has one holder until it expires or is released', async () => {
      await withRepo(kind, async (repo, open) => {
        const other = await open();
        assert.equal(
          await repo.messaging.tryAcquireLease('l', 'a', 60_000),
          true,
          'a takes the free lease',
        );
        assert.equal(
          await other.messaging.tryAcquireLease('l', 'b', 60_000),
          false,
          'b cannot take it',
        );
        assert.equal(await repo.messaging.tryAcquireLease('l', 'a', 60_000), true, 'a renews it');
        await other.messaging.releaseLease('l', 'b');
        assert.equal(
          await other.messaging.tryAcquireLease('l', 'b', 60_000),
          false,
          'b releasing a lease it does not hold changes nothing',
        );
        await repo.messaging.releaseLease('l', 'a');
        assert.equal(
          await other.messaging.tryAcquireLease('l', 'b', 1),
          true,
          'b takes the released lease',
        );
        await waitFor('the short lease to expire', async () =>
          repo.messaging.tryAcquireLease('l', 'a', 60_000),
        );
        assert.equal(
          await other.messaging.tryAcquireLease('l', 'b', 60_000),
          false,
          'after expiry a holds it again',
        );
      });
    });

    it('runs a job on one of two competing schedulers only; the other takes over when it stops', async () => {
      await withRepo(kind, async (repo, open) => {
        const repos = [repo, await open()];
        const runs: number[] = [];
        const schedulers = repos.map((r, i) => {
          const s = new LeaseScheduler(r.messaging, { nodeId: `node-${i}`, leaseMs: 600 });
          s.every('sweep', 20, async () => {
            runs.push(i);
          });
          return s;
        });
        await Promise.all(schedulers.map((s) => s.start()));
        const stopped = [false, false];
        try {
          await waitFor('several runs', () => runs.length >= 6);
          const first = runs[0];
          assert.ok(
            runs.every((r) => r === first),
            `every run on node ${first}: ${runs.join(',')}`,
          );
          await schedulers[first].stop();
          stopped[first] = true;
          const mark = runs.length;
          await waitFor('the other node to take over', () => runs.slice(mark).includes(1 - first));
          assert.ok(
            runs.slice(mark).every((r) => r === 1 - first),
            'after the stop only the other node runs it',
          );
        } finally {
          await Promise.all(schedulers.filter((_, i) => !stopped[i]).map((s) => s.stop()));
        }
      });
    });
  });
}
