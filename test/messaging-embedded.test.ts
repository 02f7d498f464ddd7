/**
 * The embedded bus over both stores: per-key order, retries then dead letter then replay, dedupe,
 * and several buses ("nodes") over one store sharing each consumer name's work.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { retryDelay } from '../src/messaging/consumer-registry.js';
import { EmbeddedBus } from '../src/messaging/embedded/embedded-bus.js';
import type { DeliveredMessage } from '../src/messaging/types.js';
import type { Repository } from '../src/store/repository.js';
import { message, waitFor, withRepo } from './helpers/messaging.js';
import { storesUnderTest } from './helpers/stores.js';

const bus = (repo: Repository, nodeId = 'node') =>
  new EmbeddedBus(repo.messaging, { nodeId, pollMs: 20 });

describe('retry delays', () => {
  it('double from retryDelayMs on each attempt, capped at an hour', () => {
    const c = { retryDelayMs: 100 };
    assert.deepEqual(
      [1, 2, 3, 4].map((a) => retryDelay(c, a)),
      [100, 200, 400, 800],
    );
    assert.equal(retryDelay(c, 40), 3_600_000);
  });
});

for (const kind of await storesUnderTest()) {
  describe(`embedded bus (${kind})`, () => {
    it('a failing message holds back later messages of its key only, then dead-letters and lets them through', async () => {
      await withRepo(kind, async (repo) => {
        const b = bus(repo);
        const order: string[] = [];
        const attempts: number[] = [];
        b.consume(
          { name: 'orders', topics: ['t.a'], maxAttempts: 3, retryDelayMs: 30 },
          async (m) => {
            if ((m.body as { bad?: boolean }).bad) {
              attempts.push(m.attempt);
              throw new Error('poison');
            }
            order.push(`${m.key}:${(m.body as { n: number }).n}`);
          },
        );
        await b.start();
        try {
          await repo.commit({
            messages: [
              message('t.a', 'A', { bad: true }),
              message('t.a', 'A', { n: 1 }),
              message('t.a', 'B', { n: 1 }),
              message('t.a', 'B', { n: 2 }),
            ],
          });
          await waitFor('key B while A is held', () => order.includes('B:2'));
          assert.ok(!order.includes('A:1'), 'A:1 waits behind the failing A message');
          await waitFor('A:1 after the dead letter', () => order.includes('A:1'));
        } finally {
          await b.stop();
        }
        assert.deepEqual(attempts, [1, 2, 3], 'attempts counted up to maxAttempts');
        assert.deepEqual(
          order.filter((o) => o.startsWith('B')),
          ['B:1', 'B:2'],
          'key B in outbox order',
        );
        const letters = await repo.messaging.listDeadLetters({ consumer: 'orders', limit: 10 });
        assert.equal(letters.length, 1, 'one dead letter');
        assert.equal(letters[0].attempts, 3);
        assert.equal(letters[0].message.key, 'A');
        assert.match(letters[0].lastError, /poison/);
      });
    });

    it('a failed delivery waits for its backoff before it can be claimed again', async () => {
      await withRepo(kind, async (repo) => {
        const b = bus(repo);
        const attempts: number[] = [];
        b.consume(
          { name: 'backoff', topics: ['t.a'], maxAttempts: 3, retryDelayMs: 60_000 },
          async (m) => {
            attempts.push(m.attempt);
            throw new Error('no');
          },
        );
        await b.start();
        const m = message('t.a', 'k');
        try {
          await repo.commit({ messages: [m] });
          await waitFor('the first attempt', () => attempts.length === 1);
          await waitFor(
            'the failure recorded',
            async () =>
              (await repo.messaging.claimDeliveries('backoff', 'probe', 5, 1000)).length === 0,
          );
        } finally {
          await b.stop();
        }
        assert.equal(
          await repo.messaging.deliveryState('backoff', m.id),
          'pending',
          'still pending, not dead',
        );
        assert.deepEqual(
          await repo.messaging.claimDeliveries('backoff', 'probe', 5, 1000),
          [],
          'not due before its retry time',
        );
        assert.deepEqual(attempts, [1], 'no second attempt inside the backoff');
      });
    });

    it('a replayed dead letter is delivered again to its consumer only', async () => {
      await withRepo(kind, async (repo) => {
        const b = bus(repo);
        let healed = false;
        const handled: DeliveredMessage[] = [];
        const other: string[] = [];
        b.consume({ name: 'replayed', topics: ['t.a'], maxAttempts: 1 }, async (m) => {
          if (!healed) throw new Error('down');
          handled.push(m);
        });
        b.consume({ name: 'bystander', topics: ['t.a'] }, async (m) => {
          other.push(m.id);
        });
        await b.start();
        try {
          const m = message('t.a', 'k');
          await repo.commit({ messages: [m] });
          await waitFor(
            'the dead letter',
            async () => (await repo.messaging.listDeadLetters({ limit: 5 })).length === 1,
          );
          await waitFor('the bystander', () => other.length === 1);
          const [letter] = await repo.messaging.listDeadLetters({ consumer: 'replayed', limit: 5 });
          assert.equal(await repo.messaging.readDeadLetter('nope'), null);
          assert.equal((await repo.messaging.readDeadLetter(letter.id))?.consumer, 'replayed');
          healed = true;
          assert.equal(await repo.messaging.replayDeadLetter(letter.id), 'replayed');
          await waitFor('the replay', () => handled.length === 1);
          assert.equal(handled[0].id, m.id, 'the same message');
          assert.equal(handled[0].attempt, 1, 'attempts start again');
          assert.deepEqual(other, [m.id], 'the other consumer did not get it again');
          assert.equal(await repo.messaging.replayDeadLetter(letter.id), 'already-replayed');
          assert.equal(
            await repo.messaging.replayDeadLetter('00000000-0000-4000-8000-000000000000'),
            'not-found',
          );
          assert.ok(
            (await repo.messaging.readDeadLetter(letter.id))?.replayedAt,
            'the dead letter records the replay',
          );
        } finally {
          await b.stop();
        }
      });
    });

    it('a delivery already finished is not run again (dedupe by consumer and message id)', async () => {
      await withRepo(kind, async (repo) => {
        const m = message('t.a', 'k');
        await repo.commit({ messages: [m] });
        const [record] = await repo.messaging.readOutbox(0, 1);
        assert.equal(
          await repo.messaging.completeDelivery('dedupe', record),
          true,
          'first completion records it',
        );
        assert.equal(
          await repo.messaging.completeDelivery('dedupe', record),
          false,
          'a second completion is a duplicate',
        );
        const b = bus(repo);
        const calls: string[] = [];
        b.consume({ name: 'dedupe', topics: ['t.a'] }, async (x) => {
          calls.push(x.id);
        });
        await b.start();
        try {
          const marker = message('t.a', 'k');
          await repo.commit({ messages: [marker] });
          await waitFor('the marker', () => calls.includes(marker.id));
        } finally {
          await b.stop();
        }
        assert.ok(!calls.includes(m.id), 'the finished message was not delivered again');
      });
    });

    it('two nodes over one store with the same consumer name handle each message exactly once, per key in order', async () => {
      await withRepo(kind, async (repo, open) => {
        const repos = [repo, await open()];
        const nodes = repos.map((r, i) => bus(r, `node-${i}`));
        const count = new Map<string, number>();
        const byKey = new Map<string, number[]>();
        const byNode = [0, 0];
        nodes.forEach((n, i) =>
          n.consume({ name: 'shared', topics: ['t.*'] }, async (m) => {
            count.set(m.id, (count.get(m.id) ?? 0) + 1);
            byKey.set(m.key, [...(byKey.get(m.key) ?? []), (m.body as { n: number }).n]);
            byNode[i]++;
            await new Promise((r) => setTimeout(r, 2)); // hold the delivery a moment so the nodes overlap
          }),
        );
        await Promise.all(nodes.map((n) => n.start()));
        const total = 80;
        try {
          await Promise.all(
            Array.from({ length: total }, (_, i) =>
              repos[i % 2].commit({ messages: [message('t.a', `k${i % 7}`, { n: i })] }),
            ),
          );
          await waitFor('every message', () => count.size === total);
        } finally {
          await Promise.all(nodes.map((n) => n.stop()));
        }
        assert.ok(
          [...count.values()].every((c) => c === 1),
          'no message handled twice',
        );
        const seqOrder = new Map(
          (await repo.messaging.readOutbox(0, 1000)).map((m) => [
            (m.body as { n: number }).n,
            m.seq,
          ]),
        );
        for (const [key, ns] of byKey) {
          const seqs = ns.map((n) => seqOrder.get(n)!);
          assert.deepEqual(
            seqs,
            [...seqs].sort((a, b) => a - b),
            `key ${key} in outbox order`,
          );
        }
        assert.equal(byNode[0] + byNode[1], total);
      });
    });

    it('a slow handler keeps its lease; a delivery whose node died is taken over after the lease', async () => {
      await withRepo(kind, async (repo, open) => {
        const other = await open();
        const calls: DeliveredMessage[] = [];
        const nodes = [repo, other].map(
          (r, i) => new EmbeddedBus(r.messaging, { nodeId: `node-${i}`, pollMs: 20, leaseMs: 150 }),
        );
        nodes.forEach((n) =>
          n.consume({ name: 'slow', topics: ['t.slow'] }, async (m) => {
            calls.push(m);
            await new Promise((r) => setTimeout(r, 700)); // several lease times
          }),
        );
        // a delivery claimed by a node that then died: its lease runs out unrenewed
        const orphan = message('t.slow', 'orphan');
        await repo.commit({ messages: [orphan] });
        await repo.messaging.enqueueDeliveries('slow', () => true, 10);
        assert.equal(
          (await repo.messaging.claimDeliveries('slow', 'dead-node', 10, 100)).length,
          1,
        );
        await Promise.all(nodes.map((n) => n.start()));
        try {
          const m = message('t.slow', 'k');
          await repo.commit({ messages: [m] });
          await waitFor(
            'both finished',
            async () =>
              (await repo.messaging.deliveryState('slow', m.id)) === 'done' &&
              (await repo.messaging.deliveryState('slow', orphan.id)) === 'done',
          );
          assert.equal(
            calls.filter((c) => c.id === m.id).length,
            1,
            'the slow message ran once: its lease was renewed',
          );
          const taken = calls.filter((c) => c.id === orphan.id);
          assert.equal(taken.length, 1, 'the orphan was taken over once');
          assert.equal(taken[0].attempt, 2, "the dead node's attempt counts");
        } finally {
          await Promise.all(nodes.map((n) => n.stop()));
        }
      });
    });
  });
}
