/**
 * The transactional outbox: commit() writes batch.messages in the same transaction as the state
 * change, so a refused batch publishes nothing; and the embedded bus delivers what was committed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { EmbeddedBus } from '../src/messaging/embedded/embedded-bus.js';
import type { DeliveredMessage } from '../src/messaging/types.js';
import { DuplicateRequestError, VersionConflictError } from '../src/store/errors.js';
import { message, waitFor, withRepo } from './helpers/messaging.js';
import { storesUnderTest } from './helpers/stores.js';

const msg = message;
const patient = (id: string, expectedVersion: number) => ({
  type: 'Patient',
  id,
  expectedVersion,
  resource: { resourceType: 'Patient', id },
  index: [],
});

/** Resolves once `count` messages have arrived (the test's own timeout bounds the wait). */
function collector(count: number) {
  const got: DeliveredMessage[] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => {
    done = r;
  });
  return {
    got,
    all,
    handler: async (m: DeliveredMessage) => {
      got.push(m);
      if (got.length >= count) done();
    },
  };
}

for (const kind of await storesUnderTest()) {
  describe(`transactional outbox (${kind})`, () => {
    it('a committed batch writes its messages in order with seq and time', async () => {
      await withRepo(kind, async (repo) => {
        const a = msg('pds.patient.birth', '9000000009', { n: 1 }),
          b = msg('pds.patient.death', '9000000009', { n: 2 });
        await repo.commit({ resources: [patient('9000000009', 0)], messages: [a, b] });
        const out = await repo.messaging.readOutbox(0, 10);
        assert.deepEqual(
          out.map((m) => m.id),
          [a.id, b.id],
          'both messages, in batch order',
        );
        assert.ok(out[0].seq < out[1].seq, 'seq increases');
        assert.deepEqual(out[1].body, { n: 2 }, 'body round-trips as JSON');
        assert.ok(!Number.isNaN(Date.parse(out[0].time)), 'time is an instant');
      });
    });

    it('a batch refused for a version conflict writes no message', async () => {
      await withRepo(kind, async (repo) => {
        await repo.commit({ resources: [patient('9000000009', 0)] });
        await assert.rejects(
          repo.commit({
            resources: [patient('9000000009', 0)],
            messages: [msg('pds.patient.birth', '9000000009')],
          }),
          VersionConflictError,
        );
        await assert.rejects(
          repo.commit({
            resources: [patient('9000000009', 7)],
            messages: [msg('pds.patient.death', '9000000009')],
          }),
          VersionConflictError,
        );
        assert.deepEqual(await repo.messaging.readOutbox(0, 10), [], 'the outbox is empty');
      });
    });

    it('a batch refused as a duplicate request writes no message', async () => {
      await withRepo(kind, async (repo) => {
        const request = {
          requestId: randomUUID(),
          userId: 'u',
          method: 'POST',
          path: '/x',
          digest: 'd',
          status: 201,
          resourceType: 'Patient',
          resourceId: '9000000009',
          version: 1,
        };
        await repo.commit({
          resources: [patient('9000000009', 0)],
          request,
          messages: [msg('t.a', 'k')],
        });
        await assert.rejects(
          repo.commit({
            resources: [patient('9000000009', 1)],
            request,
            messages: [msg('t.b', 'k')],
          }),
          DuplicateRequestError,
        );
        assert.deepEqual(
          (await repo.messaging.readOutbox(0, 10)).map((m) => m.topic),
          ['t.a'],
          'only the first batch published',
        );
      });
    });

    it('a message id already in the outbox is not written twice', async () => {
      await withRepo(kind, async (repo) => {
        const m = msg('t.a', 'k');
        await repo.commit({ messages: [m] });
        await repo.commit({ messages: [m, msg('t.b', 'k')] });
        assert.deepEqual(
          (await repo.messaging.readOutbox(0, 10)).map((o) => o.topic),
          ['t.a', 't.b'],
        );
      });
    });

    it('concurrent commits from two connections each get their own seq', async () => {
      await withRepo(kind, async (repo, open) => {
        const other = await open();
        const writes = Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? repo : other).commit({ messages: [msg('t.a', `k${i}`)] }),
        );
        await Promise.all(writes);
        const out = await repo.messaging.readOutbox(0, 100);
        assert.equal(out.length, 20, 'every message is there');
        assert.equal(new Set(out.map((m) => m.seq)).size, 20, 'seqs are distinct');
      });
    });

    it('the embedded bus delivers committed messages to every consumer whose topics match', async () => {
      await withRepo(kind, async (repo) => {
        const bus = new EmbeddedBus(repo.messaging, { nodeId: 'test', pollMs: 20 });
        const pds = collector(2),
          all = collector(3);
        const other: DeliveredMessage[] = [];
        bus.consume({ name: 'pds-only', topics: ['pds.patient.*'] }, pds.handler);
        bus.consume(
          { name: 'everything', topics: ['pds.patient.*', 'scr.document.uploaded'] },
          all.handler,
        );
        bus.consume({ name: 'eps', topics: ['eps.prescription.created'] }, async (m) => {
          other.push(m);
        });
        await bus.start();
        try {
          await repo.commit({
            resources: [patient('9000000009', 0)],
            messages: [msg('pds.patient.birth', '9000000009')],
          });
          await repo.commit({
            messages: [
              msg('scr.document.uploaded', '9000000009'),
              msg('pds.patient.death', '9000000009'),
            ],
          });
          await Promise.all([pds.all, all.all]);
        } finally {
          await bus.stop();
        }
        assert.deepEqual(
          pds.got.map((m) => m.topic),
          ['pds.patient.birth', 'pds.patient.death'],
        );
        assert.deepEqual(
          all.got.map((m) => m.topic),
          ['pds.patient.birth', 'scr.document.uploaded', 'pds.patient.death'],
        );
        assert.equal(all.got[0].attempt, 1, 'first delivery is attempt 1');
        assert.deepEqual(other, [], 'a consumer of other topics gets nothing');
      });
    });

    it('the retention sweep deletes only what every consumer is past and no dead letter needs', async () => {
      await withRepo(kind, async (repo) => {
        const bus = new EmbeddedBus(repo.messaging, { nodeId: 'test', pollMs: 20 });
        const seen: string[] = [];
        bus.consume({ name: 'sweep', topics: ['t.*'], maxAttempts: 1 }, async (m) => {
          if ((m.body as { bad?: boolean }).bad) throw new Error('no');
          seen.push(m.id);
        });
        const [ok1, bad, ok2] = [msg('t.a', 'a'), msg('t.a', 'b', { bad: true }), msg('t.a', 'c')];
        await repo.commit({ messages: [ok1, bad, ok2] });
        await bus.start();
        try {
          await waitFor(
            'deliveries finished',
            async () =>
              seen.length === 2 &&
              (await repo.messaging.listDeadLetters({ limit: 5 })).length === 1,
          );
        } finally {
          await bus.stop();
        }
        const late = msg('t.a', 'd');
        await repo.commit({ messages: [late] }); // committed after the consumer stopped: its cursor is not past it
        const future = new Date(Date.now() + 60_000).toISOString();
        const nats = await repo.messaging.sweep({
          before: future,
          consumers: [],
          requireRelayed: true,
          limit: 100,
        });
        assert.equal(nats.outbox, 0, 'nothing relayed, so a NATS sweep keeps every row');
        const past = await repo.messaging.sweep({
          before: '2000-01-01T00:00:00.000Z',
          consumers: ['sweep'],
          requireRelayed: false,
          limit: 100,
        });
        assert.deepEqual(past, { outbox: 0, deliveries: 0 }, 'nothing is old enough');
        await repo.messaging.sweep({
          before: future,
          consumers: ['sweep'],
          requireRelayed: false,
          limit: 100,
        });
        const left = (await repo.messaging.readOutbox(0, 100)).map((m) => m.id);
        assert.deepEqual(
          left,
          [bad.id, late.id],
          "the dead letter's message and the one the cursor is not past remain",
        );
        assert.equal(
          await repo.messaging.deliveryState('sweep', ok1.id),
          null,
          'finished deliveries are gone',
        );
        assert.equal(
          await repo.messaging.deliveryState('sweep', bad.id),
          'dead',
          'the dead delivery stays',
        );
      });
    });
  });
}
